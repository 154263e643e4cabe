"""Where every result file lives: one home for the path templates of the workflow.

The Snakemake rules, the workflow scripts, the grid, the report and ``distilface.reproduce``
all build their paths here, so a rule's output and the file another stage reads are spelled
once. Every function is plain string formatting: called with wildcard names (``"{model}"``)
it returns the rule's template, called with values it returns the file. Paths are relative to
the working directory (the repository root for the workflow), ``/``-separated.

This module imports nothing heavy: the Snakefile calls it at parse time.
"""

from __future__ import annotations

RESULTS = "results"
MODELS_ROOT = f"{RESULTS}/models"
STUDENTS_ROOT = f"{MODELS_ROOT}/students"
TEACHER_CACHE_ROOT = f"{RESULTS}/teacher_cache"
TENSORBOARD_ROOT = f"{RESULTS}/tensorboard"
CHECKPOINTS_ROOT = f"{RESULTS}/checkpoints"
EVAL_ROOT = f"{RESULTS}/eval"
INT8_MODELS_ROOT = f"{RESULTS}/models_int8"
INT8_EVAL_ROOT = f"{RESULTS}/eval_int8"
RELEASE_ROOT = f"{RESULTS}/release"
LOGS_ROOT = f"{RESULTS}/logs"
TABLES_ROOT = f"{RESULTS}/tables"
FIGURES_ROOT = f"{RESULTS}/figures"
BENCH_ROOT = f"{RESULTS}/bench"
#: Snakemake `benchmark:` files, one per job (rule timings gathers them)
JOB_TIMES_ROOT = f"{RESULTS}/benchmarks"
REPRODUCE_LOG = f"{RESULTS}/reproduce_log.jsonl"
REPRODUCE_SUMMARY = f"{RESULTS}/reproduce_summary.json"

#: Files under the data root (``data.root``), by data source (``config/sources.yaml`` names the
#: same ``dest`` for each; tests/test_reproduce.py checks that they agree).
DATA_FILES: dict[str, str] = {
    "senteval": "senteval",
    "wiki1m": "corpus/wiki1m_for_simcse.txt",
    "nli": "nli/nli_for_simcse.csv",
}
TRAIN_LOG = "train_log.jsonl"
TRAIN_SUMMARY = "train_summary.json"


def data_file(root: str, name: str) -> str:
    """``{root}/{DATA_FILES[name]}``, or ``{root}/{name}`` for a derived file's relative path."""
    return f"{root}/{DATA_FILES.get(name, name)}"


def model_id(variant: str, hparams: str, seed: int | str) -> str:
    """``{variant}/{hparams}/seed{seed}``: a grid run's id (what the evaluator calls ``model``)."""
    return f"{variant}/{hparams}/seed{seed}"


def model_dir(model: str) -> str:
    """A trained model's folder (the ``train`` rule's output)."""
    return f"{MODELS_ROOT}/{model}"


def train_log(model: str) -> str:
    """The JSON-lines training log inside a trained model's folder."""
    return f"{model_dir(model)}/{TRAIN_LOG}"


def train_summary(model: str) -> str:
    """The ``train_summary.json`` inside a trained model's folder."""
    return f"{model_dir(model)}/{TRAIN_SUMMARY}"


def checkpoint_dir(model: str) -> str:
    """Where a training run checkpoints (outside its output folder, so a re-run resumes)."""
    return f"{CHECKPOINTS_ROOT}/{model}"


def tensorboard_dir(model: str) -> str:
    """A training run's live TensorBoard events (``tensorboard: true`` in its settings)."""
    return f"{TENSORBOARD_ROOT}/{model}"


def student_dir(student: str) -> str:
    """A student built from a teacher's layers (``training.students.{student}``)."""
    return f"{STUDENTS_ROOT}/{student}"


def teacher_cache(teacher: str, data: str, ext: str = "npy") -> str:
    """A teacher's embeddings of one training corpus (``npy``) or their metadata (``json``)."""
    return f"{TEACHER_CACHE_ROOT}/{teacher}/{data}.{ext}"


def eval_dir(model: str) -> str:
    """The folder of one model's eval JSONs and per-pair scores."""
    return f"{EVAL_ROOT}/{model}"


def eval_json(model: str, pooling: str) -> str:
    """The eval JSON of one model at one pooling."""
    return f"{eval_dir(model)}/{pooling}.json"


def scores_npz(model: str, pooling: str) -> str:
    """The per-pair cosines and gold scores beside :func:`eval_json` (the bootstrap reads them)."""
    return f"{eval_dir(model)}/{pooling}.scores.npz"


def int8_dir(model: str) -> str:
    """A model's dynamic-int8 export."""
    return f"{INT8_MODELS_ROOT}/{model}"


def int8_eval_json(model: str, pooling: str) -> str:
    """The float32-vs-int8 report of one model at one pooling."""
    return f"{INT8_EVAL_ROOT}/{model}/{pooling}.json"


def release_dir(model: str) -> str:
    """A trained model's release folder (its files + model card)."""
    return f"{RELEASE_ROOT}/{model}"


def job_log(stage: str, name: str, ext: str = "jsonl") -> str:
    """One job's log: ``results/logs/{stage}/{name}.{ext}``."""
    return f"{LOGS_ROOT}/{stage}/{name}.{ext}"


def table(name: str, ext: str) -> str:
    """A report table, ``results/tables/{name}.{ext}``."""
    return f"{TABLES_ROOT}/{name}.{ext}"


def figure(name: str, ext: str) -> str:
    """A report figure, ``results/figures/{name}.{ext}``."""
    return f"{FIGURES_ROOT}/{name}.{ext}"


def benchmark(rule: str, job: str) -> str:
    """Snakemake's `benchmark:` file of one job: ``results/benchmarks/{rule}/{job}.tsv``."""
    return f"{JOB_TIMES_ROOT}/{rule}/{job}.tsv"
