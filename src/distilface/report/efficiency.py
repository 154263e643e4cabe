"""The efficiency table: parameters, weights on disk, measured sentences/s of each model, and
the int8 exports' speed and score change (``results/int8/...`` reports, rule
``evaluate_int8``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from distilface.data.models import ModelResolutionError, resolve_model
from distilface.report.outcomes import full_name
from distilface.report.render import TableView, signed
from distilface.report.tidy import ResultsError

WEIGHT_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.bin", "*.pt")


def folder_bytes(path: str | Path) -> float:
    """Total size of the files under ``path`` (NaN when it is not a folder or holds no
    weight file, e.g. a results bundle that kept only the logs)."""
    path = Path(path)
    if not path.is_dir() or not any(next(path.rglob(p), None) for p in WEIGHT_PATTERNS):
        return float("nan")
    return float(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))


def _encoder_folder(encoder: object) -> Path | None:
    """Local folder of an encoder path (``bundled:`` names via distilface.data.models)."""
    if not isinstance(encoder, str):
        return None
    try:
        encoder = resolve_model(encoder)
    except ModelResolutionError:  # size is informative only; NaN when unresolvable
        return None
    path = Path(encoder)
    return path if path.is_dir() else None


INT8_KEYS: tuple[str, ...] = ("model", "pooling", "tasks", "fp32", "int8", "speedup")
INT8_MODEL_KEYS: tuple[str, ...] = ("avg_spearman", "sentences_per_s", "state_dict_mib")


def read_int8_reports(paths: Iterable[str | Path]) -> dict[tuple[str, str], dict]:
    """``{(model id, pooling): report}`` of ``evaluate_int8`` JSONs; a missing key is an error
    naming the file and the key."""
    out: dict[tuple[str, str], dict] = {}
    for path in paths:
        try:
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ResultsError(f"{path}: not valid JSON ({err})") from err
        for key in INT8_KEYS:
            if key not in report:
                raise ResultsError(f"{path}: missing key {key!r}")
        for arm in ("fp32", "int8"):
            for key in INT8_MODEL_KEYS:
                if key not in report[arm]:
                    raise ResultsError(f"{path}: missing key '{arm}.{key}'")
        out[(str(report["model"]), str(report["pooling"]))] = report
    return out


PRECISION_NAMES: dict[str, str] = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
MIB = 2**20


def _speed_column(device: str, dtype: str) -> str:
    """``Sent/s CPU fp32``-style column name of one (device, precision)."""
    where = "GPU" if str(device).startswith("cuda") else "CPU"
    return f"Sent/s {where} {PRECISION_NAMES.get(str(dtype), str(dtype) or 'fp32')}"


def efficiency_table(
    wide: pd.DataFrame,
    selected: pd.DataFrame,
    models_root: str | Path = "results/models",
    int8: dict[tuple[str, str], dict] | None = None,
    config: dict | None = None,
) -> pd.DataFrame:
    """One row per model (poolings change neither size nor speed): its family (``family`` of
    :func:`distilface.report.outcomes.attach_training`), parameters, size on disk (MiB), one
    encoding speed per (device, precision), its 7-task average, the share of the teacher's
    average it keeps (``report.teacher`` of ``config``, at the teacher's row of the same
    pooling), and for models exported as int8 (``int8``, from :func:`read_int8_reports`) the
    fp32-vs-int8 CPU comparison.

    Speeds are sentences/s, means over a row's seeds. CPU fp32 comes from the ``evaluate_int8``
    job when there is one (measured back to back with int8 on one machine), else from the
    evaluation (``sentences_encoded / encode_seconds`` of the eval JSON meta); GPU speeds from
    the evaluation, under the precision it ran with. Columns empty for every row are dropped.
    An int8 report that matches no row is an error (it would otherwise be silently left out).
    """
    int8 = int8 or {}
    used: set[tuple[str, str]] = set()
    rows: dict[str, dict] = {}
    for _, sel in selected.iterrows():
        models = str(sel["models"]).split(";")
        keys = [(m, str(sel["pooling"])) for m in models if (m, str(sel["pooling"])) in int8]
        used.update(keys)
        if sel["models"] in rows and not keys:
            continue  # another pooling of a model already listed
        runs = wide[wide["model"].isin(models)].drop_duplicates("model")
        disk = []
        for _, run in runs.iterrows():
            folder = Path(models_root) / run["model"]
            if pd.isna(run["hparams"]) or not folder.is_dir():  # an encoder, or a student
                folder = _encoder_folder(run.get("encoder")) or folder  # scored untrained
            disk.append(folder_bytes(folder))
        row: dict[str, object] = {
            "Model": full_name(sel),
            "Family": sel.get("family", "transformer"),
            "Params (M)": float(sel["params"]) / 1e6,
            "Disk (MiB)": float(np.nanmean(disk)) / MIB if np.isfinite(disk).any() else np.nan,
        }
        # an evaluation served from the embedding cache encoded nothing: no speed (not inf)
        speed = runs["sentences_encoded"] / runs["encode_seconds"].where(runs["encode_seconds"] > 0)
        dtype = runs.get("dtype", pd.Series("float32", index=runs.index)).fillna("float32")
        for (device, prec), sub in speed.groupby([runs["device"].fillna("cpu"), dtype]):
            row[_speed_column(device, prec)] = float(sub.mean())
        row["Avg"] = float(sel["avg"]) if "avg" in sel else np.nan
        row["% of teacher"] = _share_of_teacher(sel, selected, config or {})
        reports = [int8[k] for k in keys]
        if reports:
            row.update(_int8_columns(reports))
        rows[sel["models"]] = rows.get(sel["models"], {}) | row
    unmatched = sorted(set(int8) - used)
    if unmatched:
        raise ResultsError(
            f"int8 reports for {unmatched} match no main-table row (model id, pooling); "
            "name the variant or model@pooling the main table shows in efficiency.int8"
        )
    table = pd.DataFrame(list(rows.values()))
    first = ["Model", "Family", "Params (M)", "Disk (MiB)", "Sent/s CPU fp32", "Sent/s CPU int8"]
    order = [c for c in first if c in table.columns]
    order += [c for c in table.columns if c.startswith("Sent/s") and c not in order]
    order += [c for c in ("Avg", "% of teacher") if c in table.columns]
    order += [c for c in table.columns if c not in order]
    return table[order].dropna(axis=1, how="all").reset_index(drop=True)


def _share_of_teacher(sel: pd.Series, selected: pd.DataFrame, config: dict) -> float:
    """100 x the row's average / the teacher's (``report.teacher`` at the row's pooling, else
    its ``avg`` row); NaN without a teacher row."""
    teacher = (config.get("report") or {}).get("teacher")
    if not teacher or "avg" not in sel:
        return np.nan
    for pooling in (sel.get("pooling"), "avg"):
        hit = selected[selected["label"] == f"{teacher}/{pooling}"]
        if len(hit) and float(hit["avg"].iloc[0]):
            return 100.0 * float(sel["avg"]) / float(hit["avg"].iloc[0])
    return np.nan


def _int8_columns(reports: list[dict]) -> dict[str, float]:
    """Mean over a row's seeds of the int8 comparison (fp32 CPU speed from the same job)."""

    def mean(arm: str, key: str) -> float:
        return float(np.mean([r[arm][key] for r in reports]))

    return {
        "Sent/s CPU fp32": mean("fp32", "sentences_per_s"),
        "Sent/s CPU int8": mean("int8", "sentences_per_s"),
        "int8 speed-up": float(np.mean([r["speedup"] for r in reports])),
        "Avg fp32": mean("fp32", "avg_spearman"),
        "Avg int8": mean("int8", "avg_spearman"),
        "Δ int8": mean("int8", "avg_spearman") - mean("fp32", "avg_spearman"),
        "Weights fp32 (MiB)": mean("fp32", "state_dict_mib"),
        "Weights int8 (MiB)": mean("int8", "state_dict_mib"),
        "int8 STS sets": float(np.mean([len(r["tasks"]) for r in reports])),
    }


def efficiency_view(table: pd.DataFrame) -> TableView:
    """Display form of :func:`efficiency_table` (sizes 1 decimal, speeds 0, scores 2)."""
    digits = {"Params (M)": 1, "Disk (MiB)": 1, "int8 speed-up": 2, "int8 STS sets": 0}
    digits["% of teacher"] = 1
    text = [c for c in ("Model", "Family") if c in table.columns]
    cells = pd.DataFrame({c: table[c].astype(str) for c in text})
    for col in [c for c in table.columns if c not in text]:
        d = digits.get(col, 0 if col.startswith("Sent/s") or "(MiB)" in col else 2)
        if "(MiB)" in col and col != "Disk (MiB)":
            d = 1
        cells[col] = [
            "" if pd.isna(v) else (signed(v, d) if col.startswith("Δ") else f"{v:.{d}f}")
            for v in table[col]
        ]
    bold = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    numeric = [c not in text for c in cells.columns]
    return TableView(cells, bold, ["all"] * len(cells), numeric)
