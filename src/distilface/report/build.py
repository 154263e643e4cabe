"""One function per Snakemake rule of ``workflow/rules/report.smk``.

Each reads the tidy CSV (the single source of every table and plot) and writes its
outputs atomically. Only the bootstrap functions also open the per-pair ``.scores.npz``
that sit next to the eval JSONs named in the frame's ``source`` column.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from distilface.core.io import write_text_atomic
from distilface.core.names import STS_TASKS
from distilface.plan.objectives import OBJECTIVES
from distilface.report import captions, efficiency, outcomes, paper, plots, stats, tables
from distilface.report.labels import (
    pooling_label,
    shown,
    teachers,
    variant_label,
)
from distilface.report.render import frame_view, render_html, signed, write_table, write_view
from distilface.report.tidy import ResultsError, load_results, read_tidy, write_tidy

log = logging.getLogger(__name__)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; an error names the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: cannot read YAML ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    return data


def _report_cfg(config: dict) -> dict:
    return config.get("report") or {}


def build_tidy(
    eval_paths: Iterable[str | Path], train_logs: Iterable[str | Path], out_csv: str | Path
) -> pd.DataFrame:
    """Rule ``report_tidy``: every result file -> ``results/tables/tidy.csv``."""
    frame = load_results(eval_paths, train_logs)
    write_tidy(frame, out_csv)
    return frame


def build_baselines(tidy_csv: str | Path, config: dict, out_stem: str | Path) -> pd.DataFrame:
    """Rule ``report_baselines``: ``baselines.{csv,md}``, every untrained encoder x pooling."""
    table = tables.baselines_table(read_tidy(tidy_csv), tables.eval_aggregation(config))
    write_table(table, out_stem, ("csv",))
    caption = "Untrained encoders: Spearman's ρ × 100 on the STS test sets, every pooling."
    write_view(frame_view(shown(table, config)), out_stem, ("md", "html"), caption)
    return table


def _bootstrap_settings(config: dict) -> tuple[int, int, float, str]:
    """(n_bootstrap, bootstrap_seed, ci_level, aggregation) from the config."""
    cfg = _report_cfg(config)
    return (
        int(cfg.get("n_bootstrap", 1000)),
        int(cfg.get("bootstrap_seed", 0)),
        float(cfg.get("ci_level", 0.95)),
        tables.eval_aggregation(config),
    )


def _selection(frame: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(wide scores, main-table rows) of a tidy frame."""
    wide = tables.scores_wide(frame, tables.eval_aggregation(config))
    return wide, outcomes.attach_training(tables.select_main(wide, config), frame, config)


def build_main(
    tidy_csv: str | Path,
    config: dict,
    published_yaml: str | Path,
    out_stem: str | Path,
    formats: tuple[str, ...] = ("md", "tex", "html"),
) -> pd.DataFrame:
    """Rule ``report_main``: ``main.csv`` (unrounded, with std columns) and the rounded
    ``main.{md,tex,html}`` (human labels, ``mean ± std``, published and Δ rows; the LaTeX one
    a ``table*``), plus ``main_compact.tex``, the one-column paper table
    (:mod:`distilface.report.paper`)."""
    _, selected = _selection(read_tidy(tidy_csv), config)
    published = tables.published_lookup(config, load_yaml(published_yaml))
    table = tables.main_table(selected, published)
    write_table(table, out_stem, ("csv",))
    in_domain = tables.sick_in_domain(config) & set(table["key"])
    caption = captions.main_caption(table, tables.eval_aggregation(config), config)
    if in_domain:
        caption += (
            " ‡: trained on SICK's or STS-B's training split (labelled SICK-train triplets, the "
            "offline stand-in for NLI, or their unlabelled sentences): SICK-R is in-domain for "
            "that row; Avg-6 = mean of the six sets without SICK-R."
        )
    view = tables.main_view(table, in_domain)
    headline = render_html(view, caption, standalone=False)
    write_text_atomic(Path(out_stem).with_name("headline.html"), headline)
    write_view(view, out_stem, tuple(f for f in formats if f != "tex"), caption)
    # the paper table keeps the scores; the training columns (student, gap closed, kept step,
    # dev scores) are in the .md/.html/.csv, and would not fit a column
    write_view(
        view.without(tables.LATEX_LEFT_OUT),
        out_stem,
        tuple(f for f in formats if f == "tex"),
        caption,
        "tab:main",
        wrap={"Model": "6.5em" if in_domain else "7.5em"},
        fold=("n", "Pooling"),
        small=("Pooling",),
        tabcolsep="1.2pt" if in_domain else "2pt",
        wide=True,  # the full grid spans both columns; the compact table fits one
    )
    if "tex" in formats:
        compact = paper.compact_caption(table, tables.eval_aggregation(config), bool(in_domain))
        compact = " ".join([compact, *captions.superseded_notes(config)])
        tex = paper.compact_latex(table, compact, in_domain)
        write_text_atomic(Path(out_stem).with_name(f"{Path(out_stem).name}_compact.tex"), tex)
    return table


def _eval_sources(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(model, pooling) -> eval JSON path."""
    rows = frame[frame["task"].isin(STS_TASKS)].drop_duplicates(["model", "pooling"])
    return {
        (m, p): s for m, p, s in zip(rows["model"], rows["pooling"], rows["source"], strict=True)
    }


def _pairs(frame: pd.DataFrame, models: list[str], pooling: str) -> list[dict]:
    sources = _eval_sources(frame)
    missing = [m for m in models if (m, pooling) not in sources]
    if missing:
        raise ResultsError(f"no eval result for {missing} with pooling {pooling!r}")
    return [stats.load_pair_scores(sources[(m, pooling)]) for m in models]


def build_seeds(tidy_csv: str | Path, config: dict, out_csv: str | Path) -> pd.DataFrame:
    """Rule ``report_seeds``: mean ± std over seeds and a bootstrap CI of the average."""
    n_boot, seed, level, agg = _bootstrap_settings(config)
    frame = read_tidy(tidy_csv)
    wide, selected = _selection(frame, config)
    rows = []
    for _, sel in tqdm(list(selected.iterrows()), desc="bootstrap CIs", unit="row"):
        models = str(sel["models"]).split(";")
        runs = wide[wide["model"].isin(models) & (wide["pooling"] == sel["pooling"])]
        reps = stats.bootstrap_avg(_pairs(frame, models, sel["pooling"]), n_boot, seed, agg)
        low, high = stats.percentile_ci(reps.mean(axis=0), level)
        rows.append(
            dict(
                label=sel["label"],
                variant=sel["variant"],
                hparams=sel["hparams"],
                pooling=sel["pooling"],
                n_seeds=len(runs),
                avg_mean=runs["avg"].mean(),
                avg_std=runs["avg"].std(ddof=1) if len(runs) > 1 else np.nan,
                stsb_dev_mean=runs["stsb_dev"].mean(),
                stsb_dev_std=runs["stsb_dev"].std(ddof=1) if len(runs) > 1 else np.nan,
                ci_low=low,
                ci_high=high,
                ci_level=level,
                n_bootstrap=n_boot,
                **{f"{t}_mean": runs[t].mean() for t in STS_TASKS},
                **{f"{t}_std": runs[t].std(ddof=1) if len(runs) > 1 else np.nan for t in STS_TASKS},
            )
        )
    out = pd.DataFrame(rows)
    write_table(out, Path(out_csv).with_suffix(""), ("csv",))
    caption = (
        f"Seeds: mean and s.d. over seeds, {level:.0%} bootstrap CI of the average "
        f"({n_boot} replicates, sentence pairs resampled)."
    )
    write_view(frame_view(shown(out, config)), Path(out_csv).with_suffix(""), ("html",), caption)
    return out


def resolve_reference(
    ref: str, wide: pd.DataFrame, selected: pd.DataFrame
) -> tuple[str, str, list[str]]:
    """``NAME[@POOLING]`` -> (label, pooling, model ids).

    NAME is a main-table label (a trained variant or ``baseline/pooling``), a model id, or a
    ``variant/hparams`` group (all its seeds). POOLING defaults to the main-table pooling.
    """
    name, _, pooling = str(ref).partition("@")
    pooling = pooling or None
    hit = selected[selected["label"] == name]
    if hit.empty and pooling is not None:
        hit = selected[selected["label"] == f"{name}/{pooling}"]
    if len(hit):
        row = hit.iloc[0]
        if pooling is None or pooling == row["pooling"]:
            return ref, row["pooling"], str(row["models"]).split(";")
        name = row["variant"] if pd.isna(row["hparams"]) else f"{row['variant']}/{row['hparams']}"
    for column in ("model", "group"):
        keys = wide["model"] if column == "model" else wide["variant"] + "/" + wide["hparams"]
        runs = wide[keys == name]
        if pooling is not None:
            runs = runs[runs["pooling"] == pooling]
        if len(runs):
            poolings = sorted(runs["pooling"].unique())
            if len(poolings) > 1:
                raise ValueError(f"comparison {ref!r}: name a pooling, one of {poolings}")
            return ref, poolings[0], sorted(runs["model"].unique())
    raise ValueError(
        f"config report.comparisons: {ref!r} matches no main-table label, model id or "
        f"variant/hparams group (labels: {sorted(selected['label'])})"
    )


def build_comparisons(tidy_csv: str | Path, config: dict, out_csv: str | Path) -> pd.DataFrame:
    """Rule ``report_comparisons``: paired bootstrap Δ, CI and p for ``report.comparisons``."""
    cfg = _report_cfg(config)
    n_boot, seed, level, agg = _bootstrap_settings(config)
    frame = read_tidy(tidy_csv)
    wide, selected = _selection(frame, config)
    rows = []
    for pair in tqdm(cfg.get("comparisons") or [], desc="paired bootstrap", unit="pair"):
        if not isinstance(pair, (list, tuple)) or len(pair) not in (2, 3):
            raise ValueError(
                f"config report.comparisons: {pair!r} is not [a, b] or [a, b, claimed minimum Δ]"
            )
        (la, pa, ma), (lb, pb, mb) = (resolve_reference(r, wide, selected) for r in pair[:2])
        result = stats.paired_bootstrap(
            _pairs(frame, ma, pa), _pairs(frame, mb, pb), n_boot, seed, agg, level
        )
        rows.append(
            dict(
                a=la,
                pooling_a=pa,
                n_a=len(ma),
                b=lb,
                pooling_b=pb,
                n_b=len(mb),
                **result,
                ci_level=level,
                n_bootstrap=n_boot,
                **claim_verdict(pair[2] if len(pair) == 3 else None, result),
            )
        )
    columns = [
        "a",
        "pooling_a",
        "n_a",
        "b",
        "pooling_b",
        "n_b",
        "delta",
        "ci_low",
        "ci_high",
        "p_value",
        "ci_level",
        "n_bootstrap",
        "claim",
        "holds",
    ]
    out = pd.DataFrame(rows, columns=columns)
    write_table(out, Path(out_csv).with_suffix(""), ("csv",))
    caption = (
        "Paired bootstrap: Δ = average(a) − average(b), its CI and two-sided p-value. A row "
        "with a claim (Δ ≥ m) holds when the whole CI is at or above m, fails when the whole "
        "CI is below it, and is 'undecided' otherwise."
    )
    shown_p = out.copy()
    shown_p["p_value"] = [
        p_text(p, n) for p, n in zip(out["p_value"], out["n_bootstrap"], strict=True)
    ]
    for column in ("delta", "ci_low", "ci_high"):  # differences: +x, −x, 0.00
        shown_p[column] = [signed(v) for v in out[column]]
    view = frame_view(shown(shown_p, config), right=("Δ", "CI low", "CI high", "p"))
    write_view(view, Path(out_csv).with_suffix(""), ("html",), caption)
    return out


def p_text(p: float, n_bootstrap: int) -> str:
    """A bootstrap p-value as shown: at the smallest value ``n_bootstrap`` resamples can give
    (two-sided: 2 / (n + 1)) it reads "< that", never as if measured exactly."""
    floor = 2.0 / (int(n_bootstrap) + 1)
    return f"< {floor:.2g}" if p <= floor * (1 + 1e-9) else f"{p:.3f}"


def claim_verdict(minimum: object, result: dict) -> dict[str, str]:
    """``claim`` ("Δ ≥ m") and ``holds`` (yes: CI low >= m; no: CI high < m; else undecided)
    of a comparison with a claimed minimum difference ``m`` (config ``[a, b, m]``)."""
    if minimum is None:
        return {"claim": "", "holds": ""}
    m = float(minimum)
    if result["ci_low"] >= m:
        holds = "yes"
    elif result["ci_high"] < m:
        holds = "no"
    else:
        holds = "undecided"
    return {"claim": f"Δ ≥ {m:g}", "holds": holds}


SCORE_COLUMNS = [*STS_TASKS, "avg"]


def error_bars(
    frame: pd.DataFrame, wide: pd.DataFrame, models: list[str], pooling: str, config: dict
) -> tuple[str, dict[str, tuple[float, float]]]:
    """One kind of interval for every row: ``("ci", ...)``, the percentile bootstrap CI over
    the STS sentence pairs of the row's score (of its seeds' mean score, the same resampled
    pairs for each seed), or ``("none", NaN)`` without per-pair scores. Values are (below,
    above) lengths for each of the 7 tasks and ``avg``. The spread over seeds stays in the
    tables (± s.d.)."""
    runs = wide[wide["model"].isin(models) & (wide["pooling"] == pooling)]
    nothing = {c: (np.nan, np.nan) for c in SCORE_COLUMNS}
    if runs.empty:
        return "none", nothing
    try:
        pairs = _pairs(frame, list(runs["model"]), pooling)
    except ResultsError as err:
        log.warning("no bootstrap interval for %s (%s): %s", models, pooling, err)
        return "none", nothing
    n_boot, seed, level, agg = _bootstrap_settings(config)
    reps = stats.bootstrap_tasks(pairs, n_boot, seed, agg).mean(axis=0)  # the seeds' mean
    out = {}
    for i, col in enumerate(SCORE_COLUMNS):
        low, high = stats.percentile_ci(reps[i], level)
        value = float(runs[col].mean())
        out[col] = (max(value - low, 0.0), max(high - value, 0.0))
    return "ci", out


def with_error_bars(frame: pd.DataFrame, wide: pd.DataFrame, rows: pd.DataFrame, config: dict):
    """``rows`` (main-table selection) plus ``err_kind`` and ``{col}_err_lo/hi`` columns."""
    rows = rows.copy()
    kinds = []
    for i, row in rows.iterrows():
        kind, bars = error_bars(frame, wide, str(row["models"]).split(";"), row["pooling"], config)
        kinds.append(kind)
        for col, (lo, hi) in bars.items():
            rows.loc[i, f"{col}_err_lo"] = lo
            rows.loc[i, f"{col}_err_hi"] = hi
    rows["err_kind"] = kinds
    return rows


def build_ablation(
    tidy_csv: str | Path, config: dict, axis: str, out_csv: str | Path, fig_stem: str | Path
) -> pd.DataFrame:
    """Rule ``report_ablation``: ``ablation_{axis}.csv`` + its figure (a note when 1 value).
    A one-seed point gets a bootstrap CI of its test average when its per-pair scores exist."""
    frame = read_tidy(tidy_csv)
    wide, selected = _selection(frame, config)
    table = tables.ablation_table(wide, config, axis)
    low, high = [], []
    for _, row in table.iterrows():
        models = wide[
            (wide["variant"] == row["variant"])
            & (wide["hparams"] == row["hparams"])
            & (wide["pooling"] == row["pooling"])
        ]
        if row["axis"] == "seeds":
            models = models[models["seed"] == row["value"]]
        kind, bars = (
            error_bars(frame, wide, list(models["model"]), row["pooling"], config)
            if row["n_seeds"] == 1
            else ("std", {})
        )
        lo, hi = bars.get("avg", (np.nan, np.nan)) if kind == "ci" else (np.nan, np.nan)
        low.append(row["avg_mean"] - lo)
        high.append(row["avg_mean"] + hi)
    table["avg_ci_low"], table["avg_ci_high"] = low, high
    write_table(table, Path(out_csv).with_suffix(""), ("csv",))
    caption = f"Ablation {axis}: 7-task average (test) and STS-B dev, mean and s.d. over seeds."
    write_view(frame_view(table), Path(out_csv).with_suffix(""), ("html",), caption)
    palette = plots.variant_palette(selected["label"])
    variant = table["variant"].iloc[0]
    plots.plot_ablation(
        table,
        table["axis"].iloc[0],
        palette.get(variant, "C0"),
        fig_stem,
        name=variant_label(config, variant),
        reference=untrained_reference(selected, config, variant),
    )
    return table


def untrained_reference(selected: pd.DataFrame, config: dict, variant: str) -> dict | None:
    """The untrained start point of ``variant``'s student as the main table shows it (its
    label, test average and STS-B dev), or None when the config has no such row. The figure's
    caption names the student (it is the ablated variant's)."""
    name = outcomes.untrained_variants(config).get(outcomes.student_of(config, variant))
    row = selected[selected["variant"] == name]
    if name is None or not len(row):
        return None
    return {"label": variant_label(config, name), "avg": float(row["avg"].iloc[0]),
            "stsb_dev": float(row["stsb_dev"].iloc[0])}  # fmt: skip


def _loss_labels(trained: pd.DataFrame, config: dict) -> dict[str, str]:
    """Main-table label -> the loss its variant trains with (a loss panel's title)."""
    variants = config.get("variants") or {}
    out = {}
    for _, row in trained.iterrows():
        objective = (variants.get(str(row["variant"])) or {}).get("objective")
        if objective in OBJECTIVES:
            out[row["label"]] = OBJECTIVES[objective].loss_label
    return out


def build_figures(tidy_csv: str | Path, config: dict, fig_dir: str | Path) -> list[Path]:
    """Rule ``report_figures``: per-task dot plot, training curves, size vs quality."""
    frame = read_tidy(tidy_csv)
    wide, selected = _selection(frame, config)
    selected = with_error_bars(frame, wide, selected, config)
    palette = plots.variant_palette(selected["label"])
    fig_dir = Path(fig_dir)
    written = plots.plot_per_task(selected, palette, fig_dir / "per_task")
    trained = selected[selected["group"] == "trained"]
    label_of = {m: row["label"] for _, row in trained.iterrows() for m in row["models"].split(";")}
    name_of = {row["label"]: row["display"] for _, row in trained.iterrows()}
    curves = frame[(frame["task"] == "train") & frame["model"].isin(list(label_of))].copy()
    curves["label"] = curves["model"].map(label_of)
    curves["name"] = curves["label"].map(name_of)
    curves["loss"] = curves["label"].map(_loss_labels(trained, config))
    untrained = selected[(selected["group"] == "baseline") & selected["hparams"].notna()]
    reference = None
    if len(untrained):
        row = untrained.iloc[0]
        reference = (f"{row['display']} ({pooling_label(row['pooling'])})", row["stsb_dev"])
    written += plots.plot_training_curves(curves, palette, fig_dir / "training_curves", reference)
    written += plots.plot_size_quality(
        selected, palette, fig_dir / "size_quality", tuple(teachers(config))
    )
    return written


def build_efficiency(
    tidy_csv: str | Path,
    config: dict,
    out_csv: str | Path,
    models_root: str | Path,
    int8_jsons: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """Rule ``report_efficiency``: ``efficiency.{csv,md,html}``, one row per model."""
    wide, selected = _selection(read_tidy(tidy_csv), config)
    table = efficiency.efficiency_table(
        wide, selected, models_root, efficiency.read_int8_reports(int8_jsons), config
    )
    stem = Path(out_csv).with_suffix("")
    write_table(table, stem, ("csv",))
    write_view(efficiency.efficiency_view(table), stem, ("md", "html"), captions.EFFICIENCY_CAPTION)
    return table
