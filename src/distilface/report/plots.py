"""Matplotlib figures (vector PDF + PNG), one consistent colour per variant label."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from distilface import STS_TASKS, TASK_LABELS  # noqa: E402
from distilface.report.io import atomic_savefig  # noqa: E402

log = logging.getLogger(__name__)

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
}
SCORE_LABEL = "Spearman's ρ × 100"


def variant_palette(labels) -> dict[str, tuple]:
    """One colour per label (trained variant or ``baseline/pooling``), stable across figures:
    labels are sorted and given tab10 (then tab20b/tab20c) colours in that order."""
    colours = [*plt.get_cmap("tab10").colors, *plt.get_cmap("tab20b").colors]
    colours += list(plt.get_cmap("tab20c").colors)
    unique = sorted({str(label) for label in labels})
    return {label: colours[i % len(colours)] for i, label in enumerate(unique)}


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``{stem}.pdf`` and ``{stem}.png`` and close the figure."""
    stem = Path(stem)
    try:
        return [atomic_savefig(fig, stem.with_suffix(f".{ext}")) for ext in ("pdf", "png")]
    finally:
        plt.close(fig)


def note_figure(stem: str | Path, title: str, note: str) -> list[Path]:
    """A figure that only states why there is nothing to plot (keeps rule outputs complete)."""
    log.warning("%s: %s", title, note)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 2.0), layout="constrained")
        ax.axis("off")
        ax.set_title(title)
        ax.text(0.5, 0.45, note, ha="center", va="center", wrap=True, transform=ax.transAxes)
        return save_figure(fig, stem)


def plot_per_task(main: pd.DataFrame, palette: dict, stem: str | Path) -> list[Path]:
    """Grouped bars: Spearman per STS task (and Avg) for each main-table row."""
    if main.empty:
        return note_figure(stem, "Per-task scores", "no evaluated model")
    columns = [*STS_TASKS, "avg"]
    names = [TASK_LABELS[t] for t in STS_TASKS] + ["Avg"]
    labels = list(main["label"])
    n = len(labels)
    width = 0.8 / n
    x = np.arange(len(columns))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(
            figsize=(max(7.0, 0.9 * len(columns) + 0.25 * n), 3.8), layout="constrained"
        )
        for i, (_, row) in enumerate(main.iterrows()):
            ax.bar(
                x - 0.4 + width * (i + 0.5),
                [row[c] for c in columns],
                width,
                label=row["label"],
                color=palette[row["label"]],
                edgecolor="white",
                lw=0.3,
            )
        ax.set_xticks(x, names)
        ax.set_xlabel("STS task (test set)")
        ax.set_ylabel(SCORE_LABEL)
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(ncols=min(3, n), loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        return save_figure(fig, stem)


def plot_ablation(table: pd.DataFrame, axis: str, colour, stem: str | Path) -> list[Path]:
    """Avg (test) and STS-B dev against the axis value, error bars = std over seeds.

    An axis with fewer than two values gets a note figure instead of a plot.
    """
    if len(table) < 2:
        values = ", ".join(str(v) for v in table["value"]) or "none"
        return note_figure(
            stem,
            f"Ablation: {axis}",
            f"axis has one value ({values}): nothing to compare, plot skipped",
        )
    values = list(table["value"])
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    xs = np.asarray(values, dtype=float) if numeric else np.arange(len(values))
    log_x = numeric and (xs > 0).all() and xs.max() / xs.min() >= 20
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2), layout="constrained", sharex=True)
        for ax, col, title in zip(
            axes, ("avg", "stsb_dev"), ("7-task average (test)", "STS-B dev"), strict=True
        ):
            ax.errorbar(
                xs,
                table[f"{col}_mean"],
                yerr=table[f"{col}_std"].fillna(0.0),
                marker="o",
                capsize=3,
                color=colour,
            )
            ax.set_title(title)
            ax.set_xlabel(axis)
            ax.set_ylabel(SCORE_LABEL)
            ax.grid(alpha=0.3)
            if log_x:
                ax.set_xscale("log")
            ax.set_xticks(xs, [str(v) for v in values], rotation=30 if len(values) > 5 else 0)
            ax.minorticks_off()
        fig.suptitle(
            f"{table['variant'].iloc[0]}: {axis} "
            f"(n seeds per point: {', '.join(map(str, table['n_seeds']))})"
        )
        return save_figure(fig, stem)


def plot_training_curves(curves: pd.DataFrame, palette: dict, stem: str | Path) -> list[Path]:
    """STS-B dev Spearman and training loss against the step, one line per seed.

    ``curves`` holds the tidy ``task == "train"`` rows of the runs to show plus a
    ``label`` column (the variant's main-table label).
    """
    if curves.empty:
        return note_figure(stem, "Training curves", "no training log among the inputs")
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), layout="constrained")
        panels = (
            ("stsb_dev", "STS-B dev " + SCORE_LABEL),
            ("loss", "training loss (objective value)"),
        )
        for ax, (metric, ylabel) in zip(axes, panels, strict=True):
            sub = curves[curves["metric"] == metric]
            seen = set()
            for (label, _model), run in sub.groupby(["label", "model"], sort=True):
                run = run.sort_values("step")
                ax.plot(
                    run["step"],
                    run["value"],
                    color=palette[label],
                    lw=1.2,
                    marker="o" if metric == "stsb_dev" else None,
                    ms=3,
                    label=label if label not in seen else None,
                    alpha=0.85,
                )
                seen.add(label)
            ax.set_xlabel("training step (batches)")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            if sub.empty:
                ax.text(0.5, 0.5, f"no '{metric}' logged", ha="center", transform=ax.transAxes)
        handles, labels = axes[0].get_legend_handles_labels()
        if not handles:
            handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(4, len(labels)), frameon=False
        )
        return save_figure(fig, stem)


def _minor_log_label(value: float, _pos: int) -> str:
    """Label only the 2x and 5x minor ticks of a log axis (keeps labels apart)."""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def plot_size_quality(main: pd.DataFrame, palette: dict, stem: str | Path) -> list[Path]:
    """Parameters (millions, log scale) against the 7-task average, one marker per row."""
    data = main.dropna(subset=["params", "avg"])
    if data.empty:
        return note_figure(stem, "Size vs quality", "no result records its parameter count")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
        for _, row in data.iterrows():
            trained = not pd.isna(row["hparams"])
            ax.errorbar(
                row["params"] / 1e6,
                row["avg"],
                yerr=0 if pd.isna(row["avg_std"]) else row["avg_std"],
                marker="o" if trained else "s",
                ms=7,
                capsize=3,
                ls="none",
                color=palette[row["label"]],
                label=row["label"],
            )
        ax.set_xscale("log")
        millions = data["params"] / 1e6
        ax.set_xlim(millions.min() / 2.0, millions.max() * 2.0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
        ax.tick_params(axis="x", which="minor", labelsize=8)
        ax.set_xlabel("parameters (millions, log scale)")
        ax.set_ylabel("7-task average " + SCORE_LABEL)
        ax.grid(alpha=0.3, which="both")
        fig.legend(loc="outside right upper", frameon=False)
        return save_figure(fig, stem)
