# Shared helpers of the rules: the data catalogue and the list of models to evaluate.
import os
from pathlib import Path

import yaml

from distilface.report.axes import ablation_axes

from distilface.grid import (
    all_model_ids,
    data_spec,
    model_dir_for,
    run_for,
    teacher_path,
    train_config_kwargs,
    train_inputs,
    trained_model_ids,
)
from distilface.pooling import POOLINGS

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


# --- report targets ---
REPORT_FIGURES = ["per_task", "training_curves", "size_quality"]


def report_axes(config):
    """Ablation axes of the config as `{variant}-{axis}` ids (empty when it has none)."""
    return list(ablation_axes(config))


def report_targets(config):
    """Every report output, for the lead's `rule all`."""
    targets = [f"results/tables/main.{ext}" for ext in ("csv", "md", "tex")]
    targets += [f"results/tables/baselines.{ext}" for ext in ("csv", "md")]
    targets += [
        "results/tables/seeds.csv",
        "results/tables/comparisons.csv",
        "results/tables/efficiency.csv",
    ]
    for axis in report_axes(config):
        targets.append(f"results/tables/ablation_{axis}.csv")
        targets += [f"results/figures/ablation_{axis}.{ext}" for ext in ("png", "pdf")]
    for name in REPORT_FIGURES:
        targets += [f"results/figures/{name}.{ext}" for ext in ("png", "pdf")]
    return targets


def report_npz():
    """Per-pair score files next to the eval JSONs (the bootstrap reads them)."""
    return [p[: -len(".json")] + ".scores.npz" for p in all_eval_jsons()]


def report_model_dirs():
    """Trained model folders holding the training logs (the train rule outputs directories,
    so the folders, not the train_log.jsonl inside them, are the rule's inputs)."""
    return sorted({os.path.dirname(p) for p in all_train_logs()})
