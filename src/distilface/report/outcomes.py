"""What training did to each main-table row: the student it started from, the share of the
gap to the teacher it closed, the step each seed kept and the STS-B dev scores kept and last
(from the training logs in the tidy frame); a row whose every seed kept its start point is
named so ("no gain (best = start)")."""

from __future__ import annotations

import numpy as np
import pandas as pd

from distilface.data.models import is_static_folder
from distilface.plan.grid import student_kind
from distilface.report.labels import SUPERSEDED, model_label
from distilface.report.tables import TRAINING_COLUMNS
from distilface.report.tidy import TRAIN_TASK

#: Display suffix of a trained row whose every seed kept its start point (best = step 0).
NO_GAIN = "no gain (best = start)"


def training_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per trained model, from its training log's STS-B dev records: the kept (best) step and
    score, and the last scored step's score.

    The best step is the first step with the highest dev score, as the loop keeps it."""
    dev = frame[(frame["task"] == TRAIN_TASK) & (frame["metric"] == "stsb_dev")]
    rows = []
    for model, sub in dev.groupby("model", sort=True):
        sub = sub.sort_values("step", kind="stable")
        best = sub.loc[sub["value"].idxmax()]
        rows.append(
            dict(
                model=model,
                best_step=int(best["step"]),
                dev_kept=float(best["value"]),
                dev_last=float(sub["value"].iloc[-1]),
            )
        )
    columns = ["model", "best_step", "dev_kept", "dev_last"]
    return pd.DataFrame(rows, columns=columns)


def untrained_variants(config: dict) -> dict[str | None, str]:
    """Student id -> the ``objective: none`` variant that scores it untrained (its start
    point's row)."""
    variants = config.get("variants") or {}
    return {
        student_of(config, v): v
        for v, spec in variants.items()
        if isinstance(spec, dict) and spec.get("objective") == "none"
    }


def student_of(config: dict, variant: str) -> str | None:
    """The ``training.students`` / ``models`` id a variant's weights start from (a fine-tune's
    is its parent's)."""
    spec = (config.get("variants") or {}).get(variant) or {}
    if spec.get("init_from"):
        return student_of(config, str(spec["init_from"]))
    return spec.get("student")


def family(config: dict, variant: object) -> str:
    """``static`` for a model2vec-style token-vector model (a ``from_model2vec`` student and
    what is trained from it, or a local static folder named under ``models:``), else
    ``transformer``. A ``bundled:`` or hub name is a transformer: nothing is resolved here."""
    if not isinstance(variant, str):
        return "transformer"
    student = student_of(config, variant)
    if student is not None and student_kind(config, student) == "from_model2vec":
        return "static"
    path = str(((config.get("models") or {}).get(variant) or {}).get("path") or "")
    return "static" if path and is_static_folder(path) else "transformer"


def _gap_closed(row: pd.Series, by_label: pd.DataFrame, base: str | None, teacher: str | None):
    """% of the distance from the untrained student (row ``base``) to the teacher (row
    ``{teacher}/{pooling}``) that ``row`` closes; NaN when either row is missing."""
    top = f"{teacher}/{row['pooling']}"
    if not (teacher and base and base in by_label.index and top in by_label.index):
        return np.nan
    low, high = float(by_label.at[base, "avg"]), float(by_label.at[top, "avg"])
    return np.nan if high == low else 100.0 * (float(row["avg"]) - low) / (high - low)


#: the main table's name of a student's untrained row (its student column says which)
UNTRAINED = "untrained (start point)"


def full_name(row: pd.Series) -> str:
    """A main-table row's name where no student column stands beside it (efficiency table,
    figures): an untrained row says whose start point it is."""
    name = str(row.get("display", row.get("label")))
    student = row.get("student")
    return (
        f"{student}: {name}" if name == UNTRAINED and isinstance(student, str) and student else name
    )


def _shown_name(display: str, untrained: bool, n_start: int, n_runs: int) -> str:
    """A row's label, saying when its kept checkpoint is the untouched start."""
    if untrained:
        return UNTRAINED
    if n_runs and n_start == n_runs:
        return f"{display}: {NO_GAIN}"
    if n_start:
        return f"{display} ({n_start} of {n_runs} seeds: best = start)"
    return display


def attach_training(selected: pd.DataFrame, frame: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Add to the main-table rows what training kept and what it would have ended with:
    ``best_step`` (each seed's, '/'-joined), ``dev_kept`` / ``dev_last`` (means over seeds),
    ``student`` (the start point's label) and ``gap_closed`` (% of the distance from the
    untrained student to ``report.teacher``, same pooling; NaN without a teacher or an
    untrained row) and ``family`` (:func:`family`). Rows follow
    the config's order: baselines, then each variant as listed.

    A row whose every seed kept its start is renamed "<label>: no gain (best = start)": its
    scores are the start point's, not the method's. A ``report.superseded`` variant's row ends
    in "[superseded]"."""
    out = selected.copy()
    outcomes = training_outcomes(frame).set_index("model")
    variants = config.get("variants") or {}
    teacher = ((config.get("report") or {}).get("teacher")) or None
    is_untrained = {
        v: isinstance(s, dict) and s.get("objective") == "none" for v, s in variants.items()
    }
    untrained = untrained_variants(config)
    superseded = ((config.get("report") or {}).get("superseded")) or {}
    by_label = out.set_index("label")
    added: dict[str, list] = {column: [] for column in (*TRAINING_COLUMNS, "display", "family")}
    for _, row in out.iterrows():
        models = [m for m in str(row["models"]).split(";") if m in outcomes.index]
        got = outcomes.loc[models] if models else outcomes.iloc[0:0]
        trained = row["group"] == "trained" and len(got) > 0
        n_start = int((got["best_step"] == 0).sum()) if trained else 0
        added["best_step"].append(
            "/".join(str(int(s)) for s in got["best_step"]) if trained else ""
        )
        added["dev_kept"].append(got["dev_kept"].mean() if trained else np.nan)
        added["dev_last"].append(got["dev_last"].mean() if trained else np.nan)
        untrained_row = is_untrained.get(str(row["variant"]), False)
        name = _shown_name(str(row["display"]), untrained_row, n_start, len(got) if trained else 0)
        added["display"].append(name + (f" {SUPERSEDED}" if row["variant"] in superseded else ""))
        student = student_of(config, str(row["variant"])) if pd.notna(row["hparams"]) else None
        added["student"].append(model_label(config, student) if student else "")
        base = None if untrained_row else untrained.get(student)
        added["gap_closed"].append(_gap_closed(row, by_label, base, teacher))
        added["family"].append(family(config, row["variant"]))
    for column, values in added.items():
        out[column] = values
    order = {name: i for i, name in enumerate(variants)}
    out["_order"] = [
        (0 if g == "baseline" and pd.isna(h) else 1, order.get(str(v), -1))
        for g, h, v in zip(out["group"], out["hparams"], out["variant"], strict=True)
    ]
    out = out.sort_values("_order", kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)
