"""Tables derived from the tidy frame: wide scores, main table, ablations, efficiency."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from distilface import STS_TASKS, TASK_LABELS
from distilface.report.axes import ablation_axes, axis_slugs, default_slug, eval_pooling
from distilface.report.tidy import DEV_TASK, META_TASK, ResultsError

SCORE_COLUMNS: tuple[str, ...] = (*STS_TASKS, "avg")


def eval_aggregation(config: dict) -> str:
    """The STS12-16 aggregation the report uses (config ``evaluation.aggregation``)."""
    return (config.get("evaluation") or {}).get("aggregation", "all")


def scores_wide(frame: pd.DataFrame, aggregation: str = "all") -> pd.DataFrame:
    """One row per evaluated (model, pooling): the 7 task Spearmans, their avg, STS-B dev
    and the meta numbers. Files marked ``skipped`` are left out."""
    keys = ["model", "variant", "hparams", "seed", "pooling"]
    evals = frame[frame["task"] != "train"]
    skipped = evals[(evals["task"] == META_TASK) & (evals["metric"] == "skipped")]
    skipped_keys = set(zip(skipped["model"], skipped["pooling"], strict=True))
    task_rows = evals[
        evals["task"].isin(STS_TASKS)
        & (evals["metric"] == "spearman")
        & (evals["aggregation"] == aggregation)
        & evals["subset"].isna()
    ]
    wide = task_rows.pivot_table(
        index=keys, columns="task", values="value", aggfunc="first", dropna=False
    )
    wide = wide.dropna(how="all")
    missing = [t for t in STS_TASKS if t not in wide.columns]
    if missing and len(wide):
        raise ResultsError(f"no '{aggregation}' Spearman for task(s) {missing} in any result")
    if not len(wide):
        return pd.DataFrame(columns=[*keys, *SCORE_COLUMNS, "stsb_dev", "params"])
    incomplete = wide[list(STS_TASKS)].isna().any(axis=1)
    if incomplete.any():
        bad = ", ".join(f"{m} ({p})" for m, _, _, _, p in wide.index[incomplete])
        raise ResultsError(f"no '{aggregation}' Spearman for every task in: {bad}")
    wide = wide[list(STS_TASKS)].copy()
    wide["avg"] = wide[list(STS_TASKS)].mean(axis=1)
    wide = wide.reset_index()
    extra = evals[
        ((evals["task"] == DEV_TASK) & (evals["metric"] == "spearman"))
        | ((evals["task"] == META_TASK) & evals["value"].notna())
    ].copy()
    extra["column"] = np.where(extra["task"] == DEV_TASK, "stsb_dev", extra["metric"])
    meta = extra.pivot_table(index=["model", "pooling"], columns="column", values="value")
    wide = wide.merge(meta.reset_index(), on=["model", "pooling"], how="left")
    for col in ("stsb_dev", "params", "encode_seconds", "sentences_encoded"):
        if col not in wide.columns:
            wide[col] = np.nan
    notes = evals[(evals["task"] == META_TASK) & evals["metric"].isin(["device", "encoder"])]
    for metric in ("device", "encoder"):
        sub = notes[notes["metric"] == metric][["model", "pooling", "note"]]
        sub = sub.rename(columns={"note": metric})
        wide = wide.merge(sub, on=["model", "pooling"], how="left")
    wide = wide[~wide.apply(lambda r: (r["model"], r["pooling"]) in skipped_keys, axis=1)]
    return wide.sort_values(["variant", "hparams", "pooling", "seed"], na_position="first")


def _is_baseline(row_or_frame) -> pd.Series | bool:
    return row_or_frame["hparams"].isna()


def select_main(wide: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The main table's rows: one per trained variant, one per baseline encoder x pooling.

    A variant configured under ``variants:`` shows its default hparams (the grid's slug)
    with the pooling it is evaluated with (``report.main_pooling[variant]`` overrides).
    A variant absent from the config shows the (hparams, pooling) group with the best mean
    STS-B dev Spearman (the test sets are never used for selection). Values are means over
    seeds; ``avg_std`` is their standard deviation (ddof=1, NaN for one seed).
    """
    report_cfg = config.get("report") or {}
    forced_pooling = report_cfg.get("main_pooling") or {}
    rows = []
    for _, row in wide[wide["hparams"].isna()].iterrows():
        rows.append(
            dict(
                label=f"{row['model']}/{row['pooling']}",
                variant=row["variant"],
                hparams=pd.NA,
                pooling=row["pooling"],
                n_seeds=0,
                models=row["model"],
                **{c: row[c] for c in SCORE_COLUMNS},
                avg_std=np.nan,
                stsb_dev=row["stsb_dev"],
                params=row["params"],
            )
        )
    trained = wide[wide["hparams"].notna()]
    for variant, runs in trained.groupby("variant", sort=True):
        slug = default_slug(config, variant)
        if slug is not None:
            runs = runs[runs["hparams"] == slug]
            if runs.empty:
                raise ResultsError(f"variant {variant!r}: no eval result for its defaults {slug}")
            pooling = forced_pooling.get(variant) or eval_pooling(slug)
            if pooling is not None and (runs["pooling"] == pooling).any():
                runs = runs[runs["pooling"] == pooling]
        elif variant in forced_pooling:
            runs = runs[runs["pooling"] == forced_pooling[variant]]
        if runs.empty:
            raise ResultsError(
                f"config report.main_pooling.{variant}={forced_pooling.get(variant)!r}: "
                "no result with that pooling"
            )
        groups = runs.groupby(["hparams", "pooling"], sort=True)
        summary = groups.agg(dev=("stsb_dev", "mean"), n=("seed", "count")).reset_index()
        summary = summary.sort_values(
            ["dev", "n", "hparams", "pooling"], ascending=[False, False, True, True]
        )
        best = summary.iloc[0]
        chosen = groups.get_group((best["hparams"], best["pooling"]))
        rows.append(
            dict(
                label=variant,
                variant=variant,
                hparams=best["hparams"],
                pooling=best["pooling"],
                n_seeds=int(chosen["seed"].count()),
                models=";".join(chosen["model"]),
                **{c: chosen[c].mean() for c in SCORE_COLUMNS},
                avg_std=chosen["avg"].std(ddof=1) if len(chosen) > 1 else np.nan,
                stsb_dev=chosen["stsb_dev"].mean(),
                params=chosen["params"].mean(),
            )
        )
    return pd.DataFrame(rows)


def published_lookup(config: dict, published: dict) -> dict[str, dict]:
    """Row label -> published entry (``report.published`` in the config maps labels to
    entry names of ``config/published.yaml``)."""
    mapping = (config.get("report") or {}).get("published") or {}
    entries = published.get("entries") or {}
    out = {}
    for label, name in mapping.items():
        if name not in entries:
            raise ValueError(
                f"config report.published.{label}: {name!r} is not an entry of published.yaml"
            )
        out[label] = entries[name]
    return out


def main_table(selected: pd.DataFrame, published_by_label: dict[str, dict]) -> pd.DataFrame:
    """The paper-style main table (scores x100, unrounded; rounding happens when rendered)."""
    table = pd.DataFrame(
        {
            "Model": selected["label"].astype(str),
            "Pooling": selected["pooling"].astype(str),
            "Seeds": selected["n_seeds"].astype("int64"),
            **{TASK_LABELS[t]: selected[t].astype(float) for t in STS_TASKS},
            "Avg": selected["avg"].astype(float),
            "Params (M)": selected["params"].astype(float) / 1e6,
        }
    )
    pub = [published_by_label.get(label, {}).get("avg", np.nan) for label in table["Model"]]
    table["Published"] = np.asarray(pub, dtype=float)
    table["Δ"] = table["Avg"] - table["Published"]
    return table.reset_index(drop=True)


def _summary(sub: pd.DataFrame) -> dict:
    """Mean, std (ddof=1) and count over seeds of the avg and STS-B dev."""
    many = len(sub) > 1
    return dict(
        n_seeds=int(len(sub)),
        avg_mean=sub["avg"].mean(),
        avg_std=sub["avg"].std(ddof=1) if many else np.nan,
        stsb_dev_mean=sub["stsb_dev"].mean(),
        stsb_dev_std=sub["stsb_dev"].std(ddof=1) if many else np.nan,
    )


def ablation_table(wide: pd.DataFrame, config: dict, axis_id: str) -> pd.DataFrame:
    """Avg (test) and STS-B dev (mean, std, n over seeds) per value of one ablation axis.

    ``axis_id`` is ``{variant}-{axis}``; every other hparam stays at the variant's default.
    The ``seeds`` axis gives one row per seed of the default hparams.
    """
    spec = ablation_axes(config).get(axis_id)
    if spec is None:
        raise ValueError(f"config key 'ablations': no axis {axis_id!r} ({{variant}}-{{axis}})")
    variant, axis = spec["variant"], spec["axis"]
    runs = wide[(wide["variant"] == variant) & wide["hparams"].notna()]
    if axis == "seeds":
        slug = default_slug(config, variant)
        runs = runs[runs["hparams"] == slug]
        pooling = eval_pooling(slug) if slug else None  # as for the hparam axes below
        if pooling is not None and (runs["pooling"] == pooling).any():
            runs = runs[runs["pooling"] == pooling]
        runs = runs[runs["seed"].isin([int(v) for v in spec["values"]])]
        by_value = {int(v): runs[runs["seed"] == int(v)] for v in spec["values"]}
    else:
        by_value = {}
        for slug, value in axis_slugs(config, spec).items():
            sub = runs[runs["hparams"] == slug]
            pooling = eval_pooling(slug)
            if pooling is not None and (sub["pooling"] == pooling).any():
                sub = sub[sub["pooling"] == pooling]
            by_value[value] = sub
    absent = [v for v, sub in by_value.items() if sub.empty]
    if absent:
        raise ResultsError(
            f"ablation {axis_id}: no eval result of variant {variant!r} for value(s) {absent}"
        )
    rows = []
    for value, sub in by_value.items():
        if sub["pooling"].nunique() > 1:
            raise ResultsError(
                f"ablation {axis_id}={value}: several poolings {sorted(sub['pooling'].unique())}"
            )
        rows.append(
            dict(
                axis=axis,
                value=value,
                variant=variant,
                hparams=sub["hparams"].iloc[0],
                pooling=sub["pooling"].iloc[0],
                **_summary(sub),
            )
        )
    return pd.DataFrame(rows)


def folder_bytes(path: str | Path) -> float:
    """Total size of the files under ``path`` (NaN when it is not a folder)."""
    path = Path(path)
    if not path.is_dir():
        return float("nan")
    return float(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))


def _encoder_folder(encoder: object) -> Path | None:
    """Local folder of an encoder path (``bundled:`` names via distilface.models)."""
    if not isinstance(encoder, str):
        return None
    if encoder.startswith("bundled:"):
        try:
            from distilface.models import resolve_model
        except ImportError:
            return None
        try:
            encoder = resolve_model(encoder)
        except Exception:  # noqa: BLE001 - size is informative only; NaN when unresolvable
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


INT8_COLUMNS: tuple[str, ...] = (
    "Avg fp32 (CPU)",
    "Avg int8 (CPU)",
    "Δ int8",
    "Sentences/s fp32 (CPU)",
    "Sentences/s int8 (CPU)",
    "int8 speed-up",
    "Weights fp32 (MiB)",
    "Weights int8 (MiB)",
)


def _int8_columns(reports: list[dict]) -> dict[str, float | str]:
    """Mean over a row's seeds of the int8 comparison (NaN columns when there is none)."""
    if not reports:
        return dict.fromkeys(INT8_COLUMNS, np.nan) | {"int8 sets": ""}

    def mean(arm: str, key: str) -> float:
        return float(np.mean([r[arm][key] for r in reports]))

    sets = {len(r["tasks"]) for r in reports}
    return {
        "Avg fp32 (CPU)": mean("fp32", "avg_spearman"),
        "Avg int8 (CPU)": mean("int8", "avg_spearman"),
        "Δ int8": mean("int8", "avg_spearman") - mean("fp32", "avg_spearman"),
        "Sentences/s fp32 (CPU)": mean("fp32", "sentences_per_s"),
        "Sentences/s int8 (CPU)": mean("int8", "sentences_per_s"),
        "int8 speed-up": float(np.mean([r["speedup"] for r in reports])),
        "Weights fp32 (MiB)": mean("fp32", "state_dict_mib"),
        "Weights int8 (MiB)": mean("int8", "state_dict_mib"),
        "int8 sets": ";".join(str(n) for n in sorted(sets)),
    }


def efficiency_table(
    wide: pd.DataFrame,
    selected: pd.DataFrame,
    models_root: str | Path = "results/models",
    int8: dict[tuple[str, str], dict] | None = None,
) -> pd.DataFrame:
    """Params, disk size and encoding throughput (sentences/s per device) per main row, and
    for rows whose models were quantised (``int8``, from :func:`read_int8_reports`) the
    float32-vs-int8 Spearman average, CPU sentences/s and weight size, averaged over seeds.

    Throughput = ``sentences_encoded / encode_seconds`` from the eval JSON meta, averaged
    over a row's seeds; disk size = the trained model folder (or the encoder folder of a
    baseline when it is local). An int8 report that matches no row is an error (it would
    otherwise be silently left out).
    """
    int8 = int8 or {}
    used: set[tuple[str, str]] = set()
    rows = []
    for _, sel in selected.iterrows():
        models = str(sel["models"]).split(";")
        runs = wide[wide["model"].isin(models) & (wide["pooling"] == sel["pooling"])]
        disk = []
        for _, run in runs.iterrows():
            folder = Path(models_root) / run["model"]
            if pd.isna(run["hparams"]):
                folder = _encoder_folder(run.get("encoder")) or folder
            disk.append(folder_bytes(folder))
        speed = runs["sentences_encoded"] / runs["encode_seconds"]
        row = {
            "Model": sel["label"],
            "Pooling": sel["pooling"],
            "Params (M)": float(sel["params"]) / 1e6,
            "Disk (MB)": float(np.nanmean(disk)) / 1e6 if np.isfinite(disk).any() else np.nan,
        }
        for device in ("cpu", "cuda"):
            on = speed[runs["device"].fillna("").str.startswith(device)]
            row[f"Sentences/s ({device})"] = float(on.mean()) if len(on.dropna()) else np.nan
        keys = [(m, str(sel["pooling"])) for m in models if (m, str(sel["pooling"])) in int8]
        used.update(keys)
        row.update(_int8_columns([int8[k] for k in keys]))
        rows.append(row)
    unmatched = sorted(set(int8) - used)
    if unmatched:
        raise ResultsError(
            f"int8 reports for {unmatched} match no main-table row (model id, pooling); "
            "name the variant or model@pooling the main table shows in efficiency.int8"
        )
    return pd.DataFrame(rows)


def baselines_table(frame: pd.DataFrame, aggregation: str = "all") -> pd.DataFrame:
    """Untrained encoders (config ``baselines``): one row per encoder x pooling, the seven
    Spearmans and their average; a pooling the checkpoint cannot offer is a row with its
    reason in ``note`` and no scores (never a score of random pooler weights)."""
    wide = scores_wide(frame, aggregation)
    scored = wide[wide["hparams"].isna()][["model", "pooling", *SCORE_COLUMNS]].copy()
    scored["note"] = ""
    meta = frame[(frame["task"] == META_TASK) & (frame["metric"] == "skipped")]
    skipped = meta[meta["hparams"].isna()][["model", "pooling", "note"]]
    table = pd.concat([scored, skipped], ignore_index=True)
    table = table.rename(columns={t: TASK_LABELS[t] for t in STS_TASKS} | {"avg": "Avg"})
    return table.sort_values(["model", "pooling"]).reset_index(drop=True)
