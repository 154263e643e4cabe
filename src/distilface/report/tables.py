"""Tables derived from the tidy frame: wide scores, the main table, ablations, baselines
(the efficiency table: :mod:`distilface.report.efficiency`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from distilface.core.names import STS_TASKS, TASK_LABELS
from distilface.data.readers import DERIVED_FILES
from distilface.report.axes import ablation_axes, axis_slugs, default_slug, eval_pooling
from distilface.report.labels import (
    SUPERSEDED,
    is_untrained,
    model_label,
    pooling_label,
    variant_label,
)
from distilface.report.render import TableView, drop_empty_columns, mean_std, signed
from distilface.report.tidy import DEV_TASK, META_TASK, ResultsError

SCORE_COLUMNS: tuple[str, ...] = (*STS_TASKS, "avg", "avg_no_sick")
#: the 6-set average without SICK-R: rows whose training saw SICK's training split (the offline
#: stand-in for DisCo's NLI stage) are in-domain on SICK-R, so the report gives both averages
NO_SICK_TASKS: tuple[str, ...] = tuple(t for t in STS_TASKS if t != "SICKRelatedness")
AVG_LABELS: dict[str, str] = {"avg": "Avg", "avg_no_sick": "Avg-6"}  # Avg-6: without SICK-R


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
    wide["avg_no_sick"] = wide[list(NO_SICK_TASKS)].mean(axis=1)
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
    notes = evals[
        (evals["task"] == META_TASK) & evals["metric"].isin(["device", "dtype", "encoder"])
    ]
    for metric in ("device", "dtype", "encoder"):
        sub = notes[notes["metric"] == metric][["model", "pooling", "note"]]
        sub = sub.rename(columns={"note": metric})
        wide = wide.merge(sub, on=["model", "pooling"], how="left")
    wide = wide[~wide.apply(lambda r: (r["model"], r["pooling"]) in skipped_keys, axis=1)]
    return wide.sort_values(["variant", "hparams", "pooling", "seed"], na_position="first")


def _baseline_rows(wide: pd.DataFrame, config: dict) -> list[dict]:
    """One main-table row per untrained encoder x pooling of ``baselines.poolings`` (every
    pooling when the key is absent; the baselines table keeps all five)."""
    shown = set((config.get("baselines") or {}).get("poolings") or wide["pooling"].unique())
    return [
        dict(
            label=f"{row['model']}/{row['pooling']}",
            display=model_label(config, str(row["model"])),
            group="baseline",
            variant=row["variant"],
            hparams=pd.NA,
            pooling=row["pooling"],
            n_seeds=0,
            models=row["model"],
            **{c: row[c] for c in SCORE_COLUMNS},
            **{f"{c}_std": np.nan for c in SCORE_COLUMNS},
            stsb_dev=row["stsb_dev"],
            params=row["params"],
        )
        for _, row in wide[wide["hparams"].isna()].iterrows()
        if row["pooling"] in shown
    ]


def _shown_runs(runs: pd.DataFrame, variant: str, config: dict) -> pd.DataFrame:
    """A variant's runs the main table may show: its default hparams and evaluation pooling
    when configured (``report.main_pooling`` overrides), else every run; errors name the key."""
    forced_pooling = (config.get("report") or {}).get("main_pooling") or {}
    slug = default_slug(config, variant)
    if slug is not None:
        runs = runs[runs["hparams"] == slug]
        if runs.empty:
            raise ResultsError(f"variant {variant!r}: no eval result for its defaults {slug}")
        spec = (config.get("variants") or {}).get(variant) or {}
        own = spec.get("pooling") if spec.get("objective") == "none" else None
        pooling = forced_pooling.get(variant) or own or eval_pooling(slug)
        if pooling is not None and (runs["pooling"] == pooling).any():
            runs = runs[runs["pooling"] == pooling]
    elif variant in forced_pooling:
        runs = runs[runs["pooling"] == forced_pooling[variant]]
    if runs.empty:
        raise ResultsError(
            f"config report.main_pooling.{variant}={forced_pooling.get(variant)!r}: "
            "no result with that pooling"
        )
    return runs


def _variant_row(runs: pd.DataFrame, variant: str, config: dict) -> dict:
    """The row of a trained variant: the (hparams, pooling) group of ``runs`` with the best
    mean STS-B dev score (then more seeds, then name order); means and stds over its seeds."""
    groups = runs.groupby(["hparams", "pooling"], sort=True)
    summary = groups.agg(dev=("stsb_dev", "mean"), n=("seed", "count")).reset_index()
    summary = summary.sort_values(
        ["dev", "n", "hparams", "pooling"], ascending=[False, False, True, True]
    )
    best = summary.iloc[0]
    chosen = groups.get_group((best["hparams"], best["pooling"]))
    return dict(
        label=variant,
        display=variant_label(config, variant),
        group="baseline" if is_untrained(config, variant) else "trained",
        variant=variant,
        hparams=best["hparams"],
        pooling=best["pooling"],
        n_seeds=int(chosen["seed"].count()),
        models=";".join(chosen["model"]),
        **{c: chosen[c].mean() for c in SCORE_COLUMNS},
        **{f"{c}_std": chosen[c].std(ddof=1) if len(chosen) > 1 else np.nan for c in SCORE_COLUMNS},
        stsb_dev=chosen["stsb_dev"].mean(),
        params=chosen["params"].mean(),
    )


def select_main(wide: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The main table's rows: one per trained variant, one per baseline encoder x pooling.

    A variant configured under ``variants:`` shows its default hparams (the grid's slug)
    with the pooling it is evaluated with (``report.main_pooling[variant]`` overrides).
    A variant absent from the config shows the (hparams, pooling) group with the best mean
    STS-B dev Spearman (the test sets are never used for selection). Values are means over
    seeds; ``{score}_std`` their standard deviations (ddof=1, NaN for one seed). ``display``
    is the row's human label (config ``label:`` or derived), ``group`` ``baseline`` (untrained
    encoders and the untrained student) or ``trained``.
    """
    rows = _baseline_rows(wide, config)
    trained = wide[wide["hparams"].notna()]
    for variant, runs in trained.groupby("variant", sort=True):
        rows.append(_variant_row(_shown_runs(runs, variant, config), variant, config))
    out = pd.DataFrame(rows)
    if len(out):
        order = {"baseline": 0, "trained": 1}
        out = out.sort_values("group", key=lambda g: g.map(order), kind="stable")
    return out.reset_index(drop=True)


def published_lookup(config: dict, published: dict) -> dict[str, list[dict]]:
    """Row label -> published entries it is compared with (config ``report.published`` maps a
    main-table label to one entry name of ``config/published.yaml`` or a list of them)."""
    mapping = (config.get("report") or {}).get("published") or {}
    entries = published.get("entries") or {}
    out: dict[str, list[dict]] = {}
    for label, names in mapping.items():
        for name in [names] if isinstance(names, str) else list(names):
            if name not in entries:
                raise ValueError(
                    f"config report.published.{label}: {name!r} is not an entry of published.yaml"
                )
            out.setdefault(label, []).append({"name": name, **entries[name]})
    return out


#: attach_training's columns -> main-table headers (Dev = STS-B dev Spearman x 100).
TRAINING_COLUMNS: dict[str, str] = {
    "student": "Student",
    "gap_closed": "Gap closed (%)",
    "best_step": "Best step",
    "dev_kept": "Dev (kept)",
    "dev_last": "Dev (last step)",
}

#: Main-table columns the LaTeX table leaves out (it must fit a page column).
LATEX_LEFT_OUT: tuple[str, ...] = tuple(TRAINING_COLUMNS.values())

#: Columns of the main table CSV (scores unrounded; ``* std`` over seeds).
MAIN_SCORE_LABELS: tuple[str, ...] = (*(TASK_LABELS[t] for t in STS_TASKS), *AVG_LABELS.values())


def _published_row(entry: dict) -> dict:
    """A ``published`` main-table row from a published.yaml entry (avg recomputed from the
    task scores when only those are given; marks tasks that are not comparable)."""
    tasks = entry.get("tasks") or {}
    scores = {
        TASK_LABELS[t]: float(tasks[t]) if tasks.get(t) is not None else np.nan for t in STS_TASKS
    }
    avg = entry.get("avg")
    marks = [TASK_LABELS[t] for t in (entry.get("not_comparable") or {})]
    six = [scores[TASK_LABELS[t]] for t in NO_SICK_TASKS]
    return dict(
        group="published",
        key=entry["name"],
        Model=str(entry.get("label") or entry["name"]),
        Pooling=str(entry.get("pooling") or ""),
        Seeds=pd.NA,
        **scores,
        Avg=float(avg) if avg is not None else np.nan,
        **{AVG_LABELS["avg_no_sick"]: float(np.mean(six)) if not np.isnan(six).any() else np.nan},
        Source=str(entry.get("source", "")),
        **{"Not comparable": ";".join(marks)},
    )


def _label(column: str) -> str:
    """Main-table header of a score column (task label, ``Avg`` or ``Avg w/o SICK-R``)."""
    return TASK_LABELS.get(column) or AVG_LABELS[column]


def main_table(selected: pd.DataFrame, published_by_label: dict[str, list[dict]]) -> pd.DataFrame:
    """The paper-style main table (scores x100, unrounded; rounding happens when rendered).

    Rows, in groups: ``baseline`` (untrained), ``trained`` (mean over seeds, ``* std``
    columns), ``published`` (each paper number a row is compared with) and ``delta`` (that
    row minus the published one, per task where both exist and are comparable); a published
    row's Δ row (``Model`` = ``Δ <our row>``) follows it in the ``published`` group.
    """
    rows = []
    for _, sel in selected.iterrows():
        rows.append(
            dict(
                group=sel["group"],
                key=sel["label"],
                Model=str(sel["display"]),
                Pooling=str(sel["pooling"]),
                Seeds=int(sel["n_seeds"]) if sel["group"] == "trained" else pd.NA,
                **{_label(c): float(sel[c]) for c in SCORE_COLUMNS},
                **{f"{_label(c)} std": float(sel[f"{c}_std"]) for c in SCORE_COLUMNS},
                **{"Params (M)": float(sel["params"]) / 1e6},
                **{label: sel.get(col, np.nan) for col, label in TRAINING_COLUMNS.items()},
            )
        )
    unknown = sorted(set(published_by_label) - set(selected["label"]))
    if unknown:
        raise ValueError(
            f"config report.published: {unknown} match no main-table row "
            f"(labels: {sorted(selected['label'])})"
        )
    ours_by_key = {r["key"]: r for r in rows}
    for key, entries in published_by_label.items():
        ours = ours_by_key[key]
        for entry in entries:
            pub = _published_row(entry)
            rows.append(pub)  # its Δ row follows it
            marks = set(filter(None, pub["Not comparable"].split(";")))
            delta = {c: ours[c] - pub[c] if c not in marks else np.nan for c in MAIN_SCORE_LABELS}
            if marks:  # an average over a non-comparable task is not comparable
                delta["Avg"] = np.nan
                if marks - {TASK_LABELS["SICKRelatedness"]}:
                    delta[AVG_LABELS["avg_no_sick"]] = np.nan
            rows.append(
                dict(
                    group="published",
                    key=f"{key}-{entry['name']}",
                    Model=f"Δ {ours['Model']}",
                    Pooling="",
                    Seeds=pd.NA,
                    **delta,
                    Source="",
                    **{"Not comparable": ""},
                )
            )
    table = pd.DataFrame(rows)
    columns = ["group", "key", "Student", "Model", "Pooling", "Seeds", *MAIN_SCORE_LABELS]
    columns += [f"{c} std" for c in MAIN_SCORE_LABELS] + ["Params (M)"]
    columns += [c for c in TRAINING_COLUMNS.values() if c != "Student"]
    columns += ["Source", "Not comparable"]
    table = table.reindex(columns=columns)
    table["Seeds"] = table["Seeds"].astype("Int64")
    return table.reset_index(drop=True)


def sick_in_domain(config: dict) -> set[str]:
    """Variants whose training (their own stage or the stage they start from) read SICK's or
    STS-B's TRAINING split (the offline stand-ins of rule ``derived_data``,
    :data:`distilface.data.DERIVED_FILES`): SICK-R is in-domain for their rows."""
    variants = config.get("variants") or {}
    data = (config.get("training") or {}).get("data") or {}
    derived = {Path(rel).name for rel in DERIVED_FILES}

    def reads_sick(name: str) -> bool:
        spec = variants.get(name) or {}
        path = data.get(spec.get("data"))
        path = path.get("path") if isinstance(path, dict) else path
        if path and Path(str(path)).name in derived:
            return True
        return bool(spec.get("init_from")) and reads_sick(spec["init_from"])

    return {name for name in variants if reads_sick(name)}


def main_view(table: pd.DataFrame, in_domain: Iterable[str] = ()) -> TableView:
    """Display form of :func:`main_table`: ``mean ± std`` for seeded rows, the best trained
    row bold per column, ``†`` on published scores that are not comparable, empty columns
    dropped. Rows keyed in ``in_domain`` (:func:`sick_in_domain`) get ``‡`` on SICK-R, and the
    ``Avg-6`` column (without SICK-R) is shown only when there are such rows."""
    in_domain = set(in_domain)
    if not (in_domain & set(table["key"])):
        table = table.drop(columns=[AVG_LABELS["avg_no_sick"], f"{AVG_LABELS['avg_no_sick']} std"])
    # bold: the best trained row per column (the teacher would win every column otherwise),
    # never a superseded one; without trained rows, the best untrained one
    ours = (table["group"] == "trained") & ~table["Model"].astype(str).str.endswith(SUPERSEDED)
    if not ours.any():
        ours = table["group"] == "baseline"
    cells = pd.DataFrame(
        {
            "Student": table.get("Student", pd.Series("", index=table.index))
            .fillna("")
            .astype(str),
            "Model": table["Model"].astype(str),
            "Pooling": [pooling_label(p) for p in table["Pooling"].fillna("")],
            "n": [("" if pd.isna(v) else str(int(v))) for v in table["Seeds"]],
        }
    )
    scores = [c for c in MAIN_SCORE_LABELS if c in table.columns]
    bold = pd.DataFrame(False, index=table.index, columns=[*cells.columns, *scores])
    for col in scores:
        std = table.get(f"{col} std", pd.Series(np.nan, index=table.index))
        sign = table["Model"].str.startswith("Δ ") & (table["group"] == "published")
        text = []
        for i in table.index:
            value = mean_std(table.at[i, col], std.at[i])
            if value and sign.at[i]:  # a Δ row: +x, −x (minus sign), 0.00
                value = signed(table.at[i, col])
            marks = str(table.at[i, "Not comparable"] or "")
            if value and col in marks.split(";"):
                value += "†"
            if value and col == TASK_LABELS["SICKRelatedness"] and table.at[i, "key"] in in_domain:
                value += "‡"
            text.append(value)
        cells[col] = text
        best = table.loc[ours, col].max()
        if ours.any() and not pd.isna(best):
            bold[col] = ours & np.isclose(table[col].astype(float), best, rtol=0, atol=5e-3)
    for header in ("Gap closed (%)", "Dev (kept)", "Dev (last step)"):
        if header in table.columns:
            values = pd.to_numeric(table[header], errors="coerce")
            cells[header] = ["" if pd.isna(v) else f"{v:.1f}" for v in values]
            bold[header] = False
    if "Best step" in table.columns:
        cells["Best step"] = ["" if pd.isna(v) else str(v) for v in table["Best step"]]
        bold["Best step"] = False
    keep = ("Model", *MAIN_SCORE_LABELS)
    if table["Seeds"].dropna().nunique() <= 1:  # one seed count for all: said in the caption
        cells = cells.drop(columns="n")
    cells = drop_empty_columns(cells, keep=keep)
    bold = bold[list(cells.columns)]
    text_columns = ("Student", "Model", "Pooling", "Best step")
    numeric = [c not in text_columns for c in cells.columns]
    return TableView(
        cells.reset_index(drop=True), bold.reset_index(drop=True), list(table["group"]), numeric
    )


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
