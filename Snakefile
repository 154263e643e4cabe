# DistilFace bench — contrastive learning of sentence embeddings in small (distilled) models.
#
#   snakemake --cores N                                   # the papers' runs (config/config.yaml)
#   snakemake --cores 2 --configfile config/quick.yaml    # offline, CPU-sized run
#   snakemake --report results/report.html                # HTML report of what was run
#
# A config given with --configfile is a complete experiment description: config/config.yaml
# is only loaded when none is given (Snakemake would otherwise merge the two).
from pathlib import Path

import yaml
from snakemake.utils import min_version, validate

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Strict: every violation by key path (an unknown key is an error, never an ignored section);
# then Snakemake's own validate fills the schema's defaults.
from snakemake.utils import update_config

from distilface.core.config import ConfigError, load_config_file, type_overrides, validate_config
from distilface.report.targets import reference_problems

_CONFIG_FILES = [str(f) for f in workflow.overwrite_configfiles or ["config/config.yaml"]]
for _file in _CONFIG_FILES:  # a duplicated key is an error (Snakemake keeps the last one)
    load_config_file(_file)
# --config values arrive as strings below the top level: typed by the schema, and a problem
# with one is reported as given with --config
_OVERRIDES = workflow.config_settings.overwrite_config or {}
update_config(config, type_overrides(_OVERRIDES))
validate_config(config, source=", ".join(_CONFIG_FILES), overrides=_OVERRIDES)
validate(config, "config/schema.yaml")
# names in report.* checked now, not in the last report job
_PUBLISHED = yaml.safe_load(Path(workflow.basedir, "config/published.yaml").read_text())
_REFERENCE_PROBLEMS = reference_problems(config, (_PUBLISHED or {}).get("entries") or {})
if _REFERENCE_PROBLEMS:
    raise ConfigError(", ".join(_CONFIG_FILES) + ":\n  " + "\n  ".join(_REFERENCE_PROBLEMS))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/release.smk"
include: "workflow/rules/timings.smk"  # after report/release: it collects their times
include: "workflow/rules/bench.smk"  # `snakemake bench`: not part of `all`


rule all:
    input:
        all_eval_jsons(),
        report_targets(config),
        release_targets(config),
        "results/tables/timings.csv",
    default_target: True
