# One command for each job; each does its own set-up (a pinned venv in .venv).
#   make test    — install (if needed), lint (ruff, snakemake --lint), run the whole test suite
#                  (what CI runs)
#   make lint    — ruff check + ruff format --check + snakemake --lint only
#   make quick   — offline CPU run: real STS data from ../shared/data, bundled MiniLM
#   make run     — the papers' runs (config/config.yaml; needs the model hub and a GPU)
#   make report  — HTML report of the last run
#   make reference-report — re-render results/reference/gpu-h100 tables, figures and report.html
#                  from its committed raw results (Snakefile.report: the workflow's report rules)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CORES  ?= 2
SNAKE  := $(VENV)/bin/snakemake
PYDIRS := src tests benchmarks tools
# A local data mirror is used when ../shared/data exists (set DISTILFACE_MIRROR= to force the
# upstream downloads, or DISTILFACE_MIRROR=DIR for another mirror); configs with data.mirror
# set keep theirs.
DISTILFACE_MIRROR ?= $(if $(wildcard ../shared/data/senteval),$(abspath ../shared/data),)
export DISTILFACE_MIRROR

.PHONY: setup test quick run report reference-report lint bench clean

$(STAMP): requirements/lock.txt requirements/models.txt requirements/reference.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: a CPU wheel here; an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps -r requirements/models.txt
	$(PY) -m pip install -q --no-deps -r requirements/reference.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# lint first: a style or workflow lint failure fails `make test` (and CI) before the suite runs
test: lint
	bash .ci/slurm.sh
	bash .ci/tools.sh
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/pytest -q -ra

lint: setup
	$(VENV)/bin/ruff check $(PYDIRS)
	$(VENV)/bin/ruff format --check $(PYDIRS)
	$(SNAKE) --lint --configfile config/quick.yaml
	$(SNAKE) -s Snakefile.report --lint --configfile config/quick.yaml

quick: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(SNAKE) --cores $(CORES) --configfile config/quick.yaml

run: setup
	$(SNAKE) --cores $(CORES) --profile profiles/workstation

bench: setup
	bash benchmarks/cpu_suite.sh

report: setup
	$(SNAKE) --report results/report.html $(if $(CONFIG),--configfile $(CONFIG),)

REF    := results/reference/gpu-h100
REFDIR := .dev/reference-report
reference-report: setup
	rm -rf $(REFDIR) && mkdir -p $(REFDIR)
	tar xzf $(REF)/raw_results.tar.gz -C $(REFDIR)
	$(SNAKE) -s Snakefile.report --cores $(CORES) --configfile $(REF)/config.yaml --directory $(REFDIR)
	$(SNAKE) -s Snakefile.report --configfile $(REF)/config.yaml --directory $(REFDIR) \
	  --report $(CURDIR)/$(REF)/report.html
	cp $(REFDIR)/results/tables/main.* $(REFDIR)/results/tables/headline.html \
	  $(REFDIR)/results/tables/baselines.* $(REFDIR)/results/tables/efficiency.* \
	  $(REFDIR)/results/tables/ablation_* $(REF)/tables/
	cp $(REFDIR)/results/figures/*.png $(REFDIR)/results/figures/*.pdf $(REF)/figures/

clean:
	rm -rf results/eval results/tables results/figures results/report.html
