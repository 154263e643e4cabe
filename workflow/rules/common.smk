# Shared helpers of the rules: the data catalogue and the list of models to evaluate.
# Every path comes from distilface.core.paths (`paths.*`), every name from distilface.core.names.
import os
import re
from pathlib import Path

import yaml


from distilface.core import paths
from distilface.core.names import EVAL_POOLINGS
from distilface.data.download import resolve_mirror
from distilface.data.readers import DERIVED_FILES
from distilface.plan import grid
from distilface.plan.grid import (
    data_spec,
    run_for,
    student_kind,
    teacher_path,
    train_config_kwargs,
    train_inputs,
    trained_model_ids,
)

# Paths of the workflow's own files resolve against the repository, so `--directory` works.
REPO = Path(workflow.basedir)
SOURCES_FILE = config.get("sources_file", str(REPO / "config/sources.yaml"))
with open(SOURCES_FILE, encoding="utf-8") as _fh:
    SOURCES = yaml.safe_load(_fh)
validate(SOURCES, "../../config/sources.schema.yaml")

DATA = config["data"]["root"]
SENTEVAL = paths.data_file(DATA, "senteval")
CORPUS = paths.data_file(DATA, "wiki1m")
NLI = paths.data_file(DATA, "nli")
RUN_ID = paths.model_id("{variant}", "{hparams}", "{seed}")  # a grid run's id, as wildcards


def runs_teacher(student: str) -> bool:
    """Whether building ``student`` runs a teacher's forward pass (model2vec's distillation:
    rule student_init then takes the training threads and GPU)."""
    return student_kind(config, student) == "from_model2vec"


def baseline_model_ids() -> list[str]:
    """Untrained encoders named in `baselines.models` (keys of `models`)."""
    return grid.baseline_model_ids(config)


def evaluated_model_ids() -> list[str]:
    """Every model the workflow scores (distilface.reproduce lists the same)."""
    return grid.evaluated_model_ids(config)


def all_eval_jsons() -> list[str]:
    """One JSON per (model, pooling): every model is scored with all five poolings in one pass."""
    return [paths.eval_json(m, p) for m in evaluated_model_ids() for p in EVAL_POOLINGS]


def all_train_logs() -> list[str]:
    return [paths.train_log(m) for m in trained_model_ids(config)]


def encoder_inputs(wildcards) -> list[str]:
    """A folder this workflow builds (trained model, student) is an input; a named encoder
    (hub name, bundled: name, outside path) is not."""
    path = encoder_path(wildcards)
    return [path] if path.startswith(f"{paths.RESULTS}/") else []


def encoder_path(wildcards) -> str:
    return grid.encoder_path(config, wildcards.model)


def grid_run(wildcards):
    """The grid.Run behind a train job's wildcards."""
    return run_for(config, paths.model_id(wildcards.variant, wildcards.hparams, wildcards.seed))


BENCH = {"device": "cpu", "repeats": 3, "steps": 20, "wait_quiet": 0, **config.get("bench", {})}
BENCH_SCRIPTS = ["eval", "train", "scaling", "cpu_precision"]


def bench_argv(wildcards) -> list[str]:
    """Command-line options of benchmarks/bench_<name>.py for this config."""
    common = ["--device", wildcards.bench_device, "--senteval-root", SENTEVAL,
              "--wait-quiet", str(BENCH["wait_quiet"])]
    extra = {
        "eval": ["--repeats", str(BENCH["repeats"])],
        "train": ["--repeats", str(BENCH["repeats"]), "--steps", str(BENCH["steps"]),
                  "--corpus", CORPUS],
        "scaling": ["--skip-snakemake", "--corpus", CORPUS],  # no snakemake inside snakemake
        "cpu_precision": ["--repeats", str(BENCH["repeats"])],
    }[wildcards.bench_name]
    return common + extra
