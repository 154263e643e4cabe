# Shared helpers of the rules: the data catalogue and the list of models to evaluate.
import os
import re
from pathlib import Path

import yaml


from distilface.data.readers import DERIVED_FILES
from distilface.train.grid import (
    all_model_ids,
    data_spec,
    model_dir_for,
    run_for,
    teacher_path,
    train_config_kwargs,
    train_inputs,
    trained_model_ids,
)
from distilface.evaluate.pooling import POOLINGS

# Paths of the workflow's own files resolve against the repository, so `--directory` works.
REPO = Path(workflow.basedir)
SOURCES_FILE = config.get("sources_file", str(REPO / "config/sources.yaml"))
with open(SOURCES_FILE, encoding="utf-8") as _fh:
    SOURCES = yaml.safe_load(_fh)
validate(SOURCES, "../../config/sources.schema.yaml")

DATA = config["data"]["root"]
SENTEVAL = f"{DATA}/senteval"
CORPUS = f"{DATA}/corpus/wiki1m_for_simcse.txt"
NLI = f"{DATA}/nli/nli_for_simcse.csv"


def baseline_model_ids() -> list[str]:
    """Untrained encoders named in `baselines.models` (keys of `models`)."""
    ids = config["baselines"]["models"]
    unknown = [m for m in ids if m not in config["models"]]
    if unknown:
        raise ValueError(f"config key baselines.models names unknown model(s) {unknown}; "
                         f"define them under `models:` ({sorted(config['models'])})")
    return list(ids)


def evaluated_model_ids() -> list[str]:
    """Every model the workflow scores: baselines, then each grid point (the untrained
    student of an `objective: none` variant included)."""
    return baseline_model_ids() + all_model_ids(config)


def all_eval_jsons() -> list[str]:
    """One JSON per (model, pooling): every model is scored with all five poolings in one pass."""
    return [f"results/eval/{m}/{p}.json" for m in evaluated_model_ids() for p in POOLINGS]


def all_train_logs() -> list[str]:
    return [f"results/models/{m}/train_log.jsonl" for m in trained_model_ids(config)]


def encoder_inputs(wildcards) -> list[str]:
    """A folder this workflow builds (trained model, student) is an input; a named encoder
    (hub name, bundled: name, outside path) is not."""
    path = encoder_path(wildcards)
    return [path] if path.startswith("results/") else []


def encoder_path(wildcards) -> str:
    if wildcards.model in config["models"]:
        return config["models"][wildcards.model]["path"]
    return model_dir_for(config, wildcards.model)


def grid_run(wildcards):
    """The grid.Run behind a train job's wildcards."""
    return run_for(config, f"{wildcards.variant}/{wildcards.hparams}/seed{wildcards.seed}")


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
