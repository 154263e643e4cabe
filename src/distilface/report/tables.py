"""Tables derived from the tidy frame: wide scores, main table, ablations, efficiency."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from distilface.core.names import STS_TASKS, TASK_LABELS
from distilface.data.models import ModelResolutionError, resolve_model
from distilface.data.readers import DERIVED_FILES
from distilface.report.axes import ablation_axes, axis_slugs, default_slug, eval_pooling
from distilface.report.labels import is_untrained, model_label, pooling_label, variant_label
from distilface.report.render import TableView, drop_empty_columns, mean_std
from distilface.report.tidy import DEV_TASK, META_TASK, TRAIN_TASK, ResultsError

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


def _student_of(config: dict, variant: str) -> str | None:
    """The ``training.students`` / ``models`` id a variant's weights start from (a fine-tune's
    is its parent's)."""
    spec = (config.get("variants") or {}).get(variant) or {}
    if spec.get("init_from"):
        return _student_of(config, str(spec["init_from"]))
    return spec.get("student")


def _gap_closed(row: pd.Series, by_label: pd.DataFrame, base: str | None, teacher: str | None):
    """% of the distance from the untrained student (row ``base``) to the teacher (row
    ``{teacher}/{pooling}``) that ``row`` closes; NaN when either row is missing."""
    top = f"{teacher}/{row['pooling']}"
    if not (teacher and base and base in by_label.index and top in by_label.index):
        return np.nan
    low, high = float(by_label.at[base, "avg"]), float(by_label.at[top, "avg"])
    return np.nan if high == low else 100.0 * (float(row["avg"]) - low) / (high - low)


def _shown_name(display: str, untrained: bool, n_start: int, n_runs: int) -> str:
    """A row's label, saying when its kept checkpoint is the untouched start."""
    if untrained:
        return "untrained (start point)"
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
    untrained row). Rows follow
    the config's order: baselines, then each variant as listed.

    A row whose every seed kept its start is renamed "<label>: no gain (best = start)": its
    scores are the start point's, not the method's."""
    out = selected.copy()
    outcomes = training_outcomes(frame).set_index("model")
    variants = config.get("variants") or {}
    teacher = ((config.get("report") or {}).get("teacher")) or None
    is_untrained = {
        v: isinstance(s, dict) and s.get("objective") == "none" for v, s in variants.items()
    }
    untrained = {_student_of(config, v): v for v, none in is_untrained.items() if none}
    by_label = out.set_index("label")
    added: dict[str, list] = {column: [] for column in (*TRAINING_COLUMNS, "display")}
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
        added["display"].append(
            _shown_name(str(row["display"]), untrained_row, n_start, len(got) if trained else 0)
        )
        student = _student_of(config, str(row["variant"])) if pd.notna(row["hparams"]) else None
        added["student"].append(model_label(config, student) if student else "")
        base = None if untrained_row else untrained.get(student)
        added["gap_closed"].append(_gap_closed(row, by_label, base, teacher))
    for column, values in added.items():
        out[column] = values
    order = {name: i for i, name in enumerate(variants)}
    out["_order"] = [
        (0 if g == "baseline" and pd.isna(h) else 1, order.get(str(v), -1))
        for g, h, v in zip(out["group"], out["hparams"], out["variant"], strict=True)
    ]
    out = out.sort_values("_order", kind="stable").drop(columns="_order")
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
    # bold: the best trained row per column (the teacher would win every column otherwise);
    # without trained rows, the best untrained one
    ours = table["group"] == "trained"
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
            if value and sign.at[i] and table.at[i, col] >= 0:
                value = "+" + value
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
) -> pd.DataFrame:
    """One row per model (poolings change neither size nor speed): parameters, size on disk
    (MiB), one encoding speed per (device, precision), and for models exported as int8
    (``int8``, from :func:`read_int8_reports`) the fp32-vs-int8 CPU comparison.

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
            if pd.isna(run["hparams"]):
                folder = _encoder_folder(run.get("encoder")) or folder
            disk.append(folder_bytes(folder))
        row: dict[str, object] = {
            "Model": sel["display"] if "display" in sel else sel["label"],
            "Params (M)": float(sel["params"]) / 1e6,
            "Disk (MiB)": float(np.nanmean(disk)) / MIB if np.isfinite(disk).any() else np.nan,
        }
        # an evaluation served from the embedding cache encoded nothing: no speed (not inf)
        speed = runs["sentences_encoded"] / runs["encode_seconds"].where(runs["encode_seconds"] > 0)
        dtype = runs.get("dtype", pd.Series("float32", index=runs.index)).fillna("float32")
        for (device, prec), sub in speed.groupby([runs["device"].fillna("cpu"), dtype]):
            row[_speed_column(device, prec)] = float(sub.mean())
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
    first = ["Model", "Params (M)", "Disk (MiB)", "Sent/s CPU fp32", "Sent/s CPU int8"]
    order = [c for c in first if c in table.columns]
    order += [c for c in table.columns if c.startswith("Sent/s") and c not in order]
    order += [c for c in table.columns if c not in order]
    return table[order].dropna(axis=1, how="all").reset_index(drop=True)


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
    cells = pd.DataFrame({"Model": table["Model"].astype(str)})
    for col in table.columns[1:]:
        d = digits.get(col, 0 if col.startswith("Sent/s") or "(MiB)" in col else 2)
        if "(MiB)" in col and col != "Disk (MiB)":
            d = 1
        cells[col] = [
            "" if pd.isna(v) else (f"{v:+.{d}f}" if col.startswith("Δ") else f"{v:.{d}f}")
            for v in table[col]
        ]
    bold = pd.DataFrame(False, index=cells.index, columns=cells.columns)
    return TableView(cells, bold, ["all"] * len(cells), [False] + [True] * (len(cells.columns) - 1))


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
