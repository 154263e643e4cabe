"""One tidy frame from every result file (eval JSONs + training logs).

Every table and plot of the report is derived from the frame returned by
:func:`load_results`; nothing downstream re-reads the JSON files.

Rows (one number each):

========== ==============================================================
column     meaning
========== ==============================================================
model      model id: ``baseline-id`` or ``{variant}/{hparams}/seed{seed}``
variant    ``variant`` of a trained run; the baseline id for a baseline
hparams    hparams slug (``t0.05_bs64_...``); empty for baselines
seed       training seed (nullable int); empty for baselines
pooling    pooling of the eval file; empty for training-log rows
task       STS task, ``avg``, ``STSBenchmark-dev``, ``meta`` or ``train``
subset     STS12-16 subset name for ``aggregation == "subset"`` rows
metric     ``spearman``, ``pearson``, ``n``; meta/train metric names
aggregation ``all``/``wmean`` (task level), ``subset``, ``count``,
           ``value`` (meta), ``step`` (training log)
value      the number (scores x100, never rounded here)
step       training step (training-log rows only)
note       text payload: skip reason, device, encoder path
source     the file the row came from (eval JSON or train_log.jsonl)
========== ==============================================================
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from distilface.core.io import write_text_atomic
from distilface.core.names import STS_TASKS

COLUMNS: tuple[str, ...] = (
    "model",
    "variant",
    "hparams",
    "seed",
    "pooling",
    "task",
    "subset",
    "metric",
    "aggregation",
    "value",
    "step",
    "note",
    "source",
)
AVG_TASK = "avg"
DEV_TASK = "STSBenchmark-dev"
META_TASK = "meta"
TRAIN_TASK = "train"
# Numbers copied from an eval JSON's ``meta`` block (all optional).
META_NUMBERS: tuple[str, ...] = ("params", "embedding_dim", "encode_seconds", "sentences_encoded")
META_TEXT: tuple[str, ...] = ("device", "dtype")
TRAIN_METRICS: tuple[str, ...] = ("loss", "stsb_dev", "lr", "sentences_per_s", "epoch")
_SEED_RE = re.compile(r"^seed(\d+)$")
# The reported ``avg`` must agree with the mean of the seven task scores within this.
AVG_TOLERANCE = 0.05


class ResultsError(ValueError):
    """A result file is missing, malformed, incomplete or holds a NaN score."""


def parse_model_id(model: str) -> tuple[str, str | None, int | None]:
    """Split a model id into ``(variant, hparams, seed)``.

    ``"minilm-l6"`` -> ``("minilm-l6", None, None)``;
    ``"simcse-unsup/t0.05_bs64/seed42"`` -> ``("simcse-unsup", "t0.05_bs64", 42)``.
    """
    parts = model.strip("/").split("/")
    if len(parts) == 1:
        return parts[0], None, None
    match = _SEED_RE.match(parts[-1]) if len(parts) == 3 else None
    if match is None:
        raise ResultsError(
            f"model id {model!r}: expected 'baseline-id' or '{{variant}}/{{hparams}}/seed{{N}}'"
        )
    return parts[0], parts[1], int(match.group(1))


def _finite(value: object, where: str) -> float:
    """``value`` as a finite float, else a :class:`ResultsError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultsError(f"{where}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ResultsError(f"{where}: score is {value!r} (NaN/inf)")
    return number


def _read_json(path: Path) -> dict:
    """Parse one JSON file; errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ResultsError(f"{path}: cannot read ({err})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsError(f"{path}:{err.lineno}:{err.colno}: malformed JSON ({err.msg})") from err
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: top level must be a JSON object")
    return data


def _model_from_path(path: Path) -> str:
    """Model id from ``results/eval/{model}/{pooling}.json`` (the part after ``eval/``)."""
    parts = path.parts
    if "eval" in parts:
        idx = len(parts) - 1 - parts[::-1].index("eval")
        return "/".join(parts[idx + 1 : -1])
    return path.parent.name


def _task_rows(path: Path, task: str, block: object, aggregation_required: str) -> list[dict]:
    """Rows of one task block of an eval JSON (task level + subsets)."""
    where = f"{path}: tasks.{task}"
    if not isinstance(block, dict):
        raise ResultsError(f"{where}: expected an object")
    rows: list[dict] = []
    for metric in ("spearman", "pearson"):
        scores = block.get(metric)
        if not isinstance(scores, dict) or aggregation_required not in scores:
            raise ResultsError(f"{where}.{metric}.{aggregation_required}: missing")
        for agg, value in scores.items():
            if value is None and agg != aggregation_required:
                continue
            num = _finite(value, f"{where}.{metric}.{agg}")
            rows.append(dict(task=task, metric=metric, aggregation=agg, value=num))
    if "n" in block:
        rows.append(
            dict(
                task=task, metric="n", aggregation="count", value=_finite(block["n"], f"{where}.n")
            )
        )
    for subset, sub in (block.get("subsets") or {}).items():
        if not isinstance(sub, dict):
            raise ResultsError(f"{where}.subsets.{subset}: expected an object")
        for metric in ("spearman", "pearson", "n"):
            if metric in sub and sub[metric] is not None:
                num = _finite(sub[metric], f"{where}.subsets.{subset}.{metric}")
                agg = "count" if metric == "n" else "subset"
                rows.append(
                    dict(task=task, subset=subset, metric=metric, aggregation=agg, value=num)
                )
    return rows


def eval_rows(path: Path, tasks: Iterable[str] = STS_TASKS) -> list[dict]:
    """Tidy rows of one eval JSON (see the module docstring for the columns)."""
    path = Path(path)
    data = _read_json(path)
    model = data.get("model") or _model_from_path(path)
    if not isinstance(model, str):
        raise ResultsError(f"{path}: 'model' must be a string, got {model!r}")
    pooling = data.get("pooling") or path.stem
    variant, hparams, seed = parse_model_id(model)
    base = dict(model=model, variant=variant, hparams=hparams, seed=seed, pooling=pooling)
    base["source"] = str(path)
    rows: list[dict] = []
    meta = data.get("meta") or {}
    encoder = data.get("encoder")
    if encoder:
        rows.append(dict(task=META_TASK, metric="encoder", aggregation="value", note=str(encoder)))
    for key in META_NUMBERS:
        if meta.get(key) is not None:
            value = _finite(meta[key], f"{path}: meta.{key}")
            rows.append(dict(task=META_TASK, metric=key, aggregation="value", value=value))
    for key in META_TEXT:
        if meta.get(key) is not None:
            rows.append(dict(task=META_TASK, metric=key, aggregation="value", note=str(meta[key])))
    if "skipped" in data:
        rows.append(
            dict(task=META_TASK, metric="skipped", aggregation="value", note=str(data["skipped"]))
        )
        return [base | row for row in rows]

    aggregation = data.get("aggregation", "all")
    task_blocks = data.get("tasks")
    if not isinstance(task_blocks, dict):
        raise ResultsError(f"{path}: 'tasks' missing (and no 'skipped' reason given)")
    tasks = tuple(tasks)
    missing = [t for t in tasks if t not in task_blocks]
    if missing:
        raise ResultsError(f"{path}: missing task(s) {', '.join(missing)} (expected {tasks})")
    task_scores = []
    for task in tasks:
        task_rows = _task_rows(path, task, task_blocks[task], aggregation)
        rows.extend(task_rows)
        task_scores += [
            r["value"]
            for r in task_rows
            if r["metric"] == "spearman" and r["aggregation"] == aggregation
        ]
    avg_block = data.get("avg")
    if not isinstance(avg_block, dict) or "spearman" not in avg_block:
        raise ResultsError(f"{path}: avg.spearman missing")
    for metric, value in avg_block.items():
        num = _finite(value, f"{path}: avg.{metric}")
        rows.append(dict(task=AVG_TASK, metric=metric, aggregation=aggregation, value=num))
    recomputed = sum(task_scores) / len(task_scores)
    if abs(recomputed - float(avg_block["spearman"])) > AVG_TOLERANCE:
        raise ResultsError(
            f"{path}: avg.spearman={avg_block['spearman']} but the mean of the "
            f"{len(task_scores)} task scores ({aggregation}) is {recomputed:.4f}"
        )
    dev = data.get("stsb_dev")
    if isinstance(dev, dict) and dev.get("spearman") is not None:
        num = _finite(dev["spearman"], f"{path}: stsb_dev.spearman")
        rows.append(dict(task=DEV_TASK, metric="spearman", aggregation="all", value=num))
    return [base | row for row in rows]


def train_log_rows(path: Path) -> list[dict]:
    """Tidy rows of one ``results/models/{variant}/{hparams}/seed{seed}/train_log.jsonl``."""
    path = Path(path)
    if len(path.parts) < 4:
        raise ResultsError(
            f"{path}: expected .../{{variant}}/{{hparams}}/seed{{N}}/train_log.jsonl"
        )
    model = "/".join(path.parts[-4:-1])
    variant, hparams, seed = parse_model_id(model)
    base = dict(model=model, variant=variant, hparams=hparams, seed=seed, source=str(path))
    rows: list[dict] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ResultsError(f"{path}: cannot read ({err})") from err
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ResultsError(f"{path}:{lineno}: malformed JSON line ({err.msg})") from err
        if not isinstance(record, dict) or "step" not in record:
            raise ResultsError(f"{path}:{lineno}: a log record needs a 'step' key")
        step = _finite(record["step"], f"{path}:{lineno}: step")
        for metric in TRAIN_METRICS:
            if record.get(metric) is None:
                continue
            value = _finite(record[metric], f"{path}:{lineno}: {metric}")
            rows.append(
                base
                | dict(task=TRAIN_TASK, metric=metric, aggregation="step", value=value, step=step)
            )
    return rows


def load_results(
    eval_paths: Iterable[str | Path],
    train_logs: Iterable[str | Path] = (),
    tasks: Iterable[str] = STS_TASKS,
) -> pd.DataFrame:
    """Build THE tidy frame from every eval JSON and training log.

    Raises :class:`ResultsError` naming the file for a malformed JSON, a missing task,
    a NaN score or a reported average that disagrees with its task scores.
    """
    tasks = tuple(tasks)
    rows: list[dict] = []
    for path in eval_paths:
        rows.extend(eval_rows(Path(path), tasks))
    for path in train_logs:
        rows.extend(train_log_rows(Path(path)))
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
    return normalize(frame)


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Fix the dtypes of a tidy frame (also after a CSV round trip)."""
    frame = frame.reindex(columns=list(COLUMNS)).copy()
    for col in ("model", "variant", "hparams", "pooling", "task", "subset", "metric"):
        frame[col] = frame[col].astype("string")
    for col in ("aggregation", "note", "source"):
        frame[col] = frame[col].astype("string")
    frame["seed"] = pd.to_numeric(frame["seed"]).astype("Int64")
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    frame["step"] = pd.to_numeric(frame["step"]).astype("float64")
    return frame.reset_index(drop=True)


def write_tidy(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write the tidy frame as CSV (temp name, then rename)."""
    return write_text_atomic(path, frame.to_csv(index=False))


def read_tidy(path: str | Path) -> pd.DataFrame:
    """Read a tidy CSV written by :func:`write_tidy`."""
    return normalize(pd.read_csv(path, keep_default_na=True))
