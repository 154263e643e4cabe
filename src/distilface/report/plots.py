"""Matplotlib figures (vector PDF + PNG), one consistent colour per variant label."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from distilface.core.io import write_with_atomic  # noqa: E402
from distilface.core.names import STS_TASKS, TASK_LABELS, TRAIN_TO_EVAL_POOLING  # noqa: E402
from distilface.report.labels import axis_label, pooling_label  # noqa: E402
from distilface.report.outcomes import full_name  # noqa: E402

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


def savefig_atomic(fig, path: str | Path) -> Path:
    """``fig.savefig`` to a temporary name, then rename; the format comes from ``path``'s suffix.
    A PDF gets no creation date: re-rendering the same results gives the same bytes."""
    fmt = Path(path).suffix.lstrip(".")
    metadata = {"CreationDate": None} if fmt == "pdf" else None
    dpi = 200 if fmt == "png" else None
    return write_with_atomic(
        path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, metadata=metadata)
    )


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``{stem}.pdf`` and ``{stem}.png`` and close the figure."""
    stem = Path(stem)
    try:
        return [savefig_atomic(fig, stem.with_suffix(f".{ext}")) for ext in ("pdf", "png")]
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


ERROR_NOTE = {
    "std": "±1 s.d. over seeds",
    "ci": "95% percentile bootstrap CI over the STS sentence pairs (of the seeds' mean score "
    "where a row has several seeds)",
    "none": "no interval (one run, per-pair scores not available)",
}


def row_name(row: pd.Series) -> str:
    """Legend name of a main-table row: its label, the pooling for untrained encoders."""
    name = full_name(row)
    if row.get("group") == "baseline" and pd.isna(row.get("hparams")):
        name += f" ({pooling_label(row['pooling'])})"
    return name


def _yerr(row: pd.Series, columns: list[str]) -> np.ndarray:
    """``(2, len(columns))`` lower/upper error bar lengths (0 where there is none)."""
    lo = [row.get(f"{c}_err_lo", np.nan) for c in columns]
    hi = [row.get(f"{c}_err_hi", np.nan) for c in columns]
    return np.nan_to_num(np.array([lo, hi], dtype=float), nan=0.0)


def _error_caption(kinds) -> str:
    kinds = [k for k in ("std", "ci", "none") if k in set(kinds)]
    return "Error bars: " + "; ".join(ERROR_NOTE[k] for k in kinds) + "."


def plot_per_task(main: pd.DataFrame, palette: dict, stem: str | Path) -> list[Path]:
    """A dot plot: one row per main-table row (in its order, a rule between students), one
    panel per STS test set and the average; each dot the row's score (mean over its seeds)
    with its ``{col}_err_lo/hi`` interval, one kind for the whole figure (the bootstrap CI of
    :func:`distilface.report.build.error_bars`). Static models are drawn hollow."""
    if main.empty:
        return note_figure(stem, "Per-task scores", "no evaluated model")
    columns = [*STS_TASKS, "avg"]
    names = [TASK_LABELS[t] for t in STS_TASKS] + ["Avg"]
    n = len(main)
    y = np.arange(n)[::-1]
    kinds = main.get("err_kind", pd.Series("none", index=main.index))
    labels = [textwrap.fill(_seeded_name(row), 46) for _, row in main.iterrows()]
    lines = sum(label.count("\n") + 1 for label in labels)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1,
            len(columns),
            sharey=True,
            figsize=(3.6 + 1.25 * len(columns), 1.3 + 0.17 * lines + 0.08 * n),
            layout="constrained",
        )
        for ax, col, name in zip(axes, columns, names, strict=True):
            for yi, (_, row) in zip(y, main.iterrows(), strict=True):
                colour = palette[row["label"]]
                kind = kinds.loc[row.name]
                ax.errorbar(
                    row[col],
                    yi,
                    xerr=None if kind == "none" else _yerr(row, [col]),
                    fmt="o",
                    ms=4.5,
                    color=colour,
                    mfc="white" if row.get("family") == "static" else colour,
                    mew=1.2,
                    elinewidth=1.0,
                    capsize=2,
                )
            _student_rules(ax, main, y)
            ax.set_title(name, fontsize=10)
            ax.grid(axis="x", alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
            ax.tick_params(axis="y", length=0)
        axes[0].set_yticks(y, labels, fontsize=7.5)
        axes[0].set_ylim(-0.6, n - 0.4)
        fig.supxlabel(SCORE_LABEL, fontsize=9)
        note = _error_caption(kinds) + " Dots: the row's score (with n= seeds: their mean)."
        if (main.get("family", pd.Series(dtype=object)) == "static").any():
            note += " Hollow: static models (one vector per token, model2vec)."
        fig.suptitle("\n".join(textwrap.wrap(note, 150)), fontsize=8, x=0.01, ha="left")
        return save_figure(fig, stem)


def _seeded_name(row: pd.Series) -> str:
    """A row's name with its number of seeds when it has several."""
    n = row.get("n_seeds")
    many = isinstance(n, (int, float, np.integer, np.floating)) and not pd.isna(n) and n > 1
    return row_name(row) + (f" (n={int(n)})" if many else "")


def _student_rules(ax, main: pd.DataFrame, y: np.ndarray) -> None:
    """A thin rule between consecutive rows of different students (baselines first)."""
    students = main.get("student", pd.Series("", index=main.index)).fillna("").astype(str)
    for i in range(1, len(main)):
        if students.iloc[i] != students.iloc[i - 1]:
            ax.axhline((y[i] + y[i - 1]) / 2, color="0.75", lw=0.6)


def _categorical(values: list) -> bool:
    return not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _tick(axis: str, value) -> str:
    """Tick label of an ablation value (``cls → CLS`` for the pooling axis)."""
    if axis == "pooling":
        return f"{value} → {pooling_label(TRAIN_TO_EVAL_POOLING.get(str(value), value))}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _ablation_panel(ax, table: pd.DataFrame, col: str, xs, colour, categorical: bool) -> list[str]:
    """One panel of :func:`plot_ablation`: means of ``col`` with s.d. bars (several seeds), a
    bootstrap CI (one seed, test average) or a hollow marker (no interval); returns the kinds."""
    many = table["n_seeds"] > 1
    mean = table[f"{col}_mean"].to_numpy(dtype=float)
    err = np.zeros((2, len(table)))
    err[:, many] = table.loc[many, f"{col}_std"].to_numpy(dtype=float)
    has_ci = np.zeros(len(table), dtype=bool)
    if col == "avg" and "avg_ci_low" in table:
        has_ci = (~many & table["avg_ci_low"].notna()).to_numpy()
        err[0, has_ci] = np.clip(mean[has_ci] - table["avg_ci_low"][has_ci], 0, None)
        err[1, has_ci] = np.clip(table["avg_ci_high"][has_ci] - mean[has_ci], 0, None)
    exact = ~many.to_numpy() & ~has_ci
    kinds = ["std"] * int(many.sum()) + ["ci"] * int(has_ci.sum()) + ["none"] * int(exact.sum())
    if not categorical:
        ax.plot(xs, mean, color=colour, lw=1.0, alpha=0.6)
    ax.errorbar(xs[~exact], mean[~exact], yerr=err[:, ~exact], fmt="o", capsize=3, color=colour)
    ax.plot(xs[exact], mean[exact], "o", mfc="white", color=colour)
    return kinds


#: Ablation axes whose values double (batch size, sequence length): a log2 x axis.
DOUBLING_AXES: tuple[str, ...] = ("batch_size", "max_seq_length")


def plot_ablation(
    table: pd.DataFrame,
    axis: str,
    colour,
    stem: str | Path,
    name: str | None = None,
    reference: dict | None = None,
) -> list[Path]:
    """Avg (test) and STS-B dev against the axis value. Error bars: s.d. over seeds where a
    point has several, a 95% bootstrap CI of the test average for a one-seed point
    (``avg_ci_low/high`` columns; sentence pairs resampled); a one-seed dev point has no
    interval and is drawn hollow. Categorical axes (pooling, seeds) are dots, never lines.

    ``name`` is the variant's label in the title; ``reference`` (``label``, ``avg``,
    ``stsb_dev``: the untrained start point) is drawn as a dashed line in both panels. Batch
    size and sequence length are on a log2 axis. An axis with fewer than two values gets a
    note figure instead of a plot.
    """
    if len(table) < 2:
        values = ", ".join(str(v) for v in table["value"]) or "none"
        return note_figure(
            stem,
            f"Ablation: {axis_label(axis)}",
            f"axis has one value ({values}): nothing to compare, plot skipped",
        )
    values = list(table["value"])
    categorical = _categorical(values) or axis == "seeds"
    xs = np.arange(len(values)) if categorical else np.asarray(values, dtype=float)
    positive = not categorical and (xs > 0).all()
    log_x = positive and (axis in DOUBLING_AXES or xs.max() / xs.min() >= 20)
    kinds: list[str] = []
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.5), layout="constrained", sharex=True)
        for ax, col, title in zip(
            axes, ("avg", "stsb_dev"), ("7-task average (test)", "STS-B dev"), strict=True
        ):
            kinds += _ablation_panel(ax, table, col, xs, colour, categorical)
            ax.set_title(title)
            ax.set_xlabel(axis_label(axis))
            ax.set_ylabel(SCORE_LABEL)
            ax.grid(alpha=0.3)
            if log_x:
                ax.set_xscale("log", base=2 if axis in DOUBLING_AXES else 10)
            if reference is not None:
                ax.axhline(reference[col], ls="--", lw=1, color="0.45",
                           label=f"untrained start: {reference[col]:.2f}")  # fmt: skip
                ax.legend(fontsize=7, loc="best")
            labels = [_tick(axis, v) for v in values]
            ax.set_xticks(xs, labels, rotation=30 if len(values) > 5 else 0)
            ax.minorticks_off()
            if categorical:
                ax.set_xlim(-0.5, len(values) - 0.5)
        fig.suptitle(
            f"{name or table['variant'].iloc[0]}: {axis_label(axis)} "
            f"(seeds per point: {', '.join(map(str, table['n_seeds']))})"
        )
        note = _error_caption(kinds) + " Hollow marker: one seed, no interval."
        if reference is not None:
            note += f" Dashed: {reference['label']}."
        fig.supxlabel("\n".join(textwrap.wrap(note, 120)), fontsize=8)
        return save_figure(fig, stem)


def _dev_curves(dev_ax, curves: pd.DataFrame, palette: dict, reference) -> None:
    """Top panel of :func:`plot_training_curves`: STS-B dev per seed, the untrained line."""
    dev = curves[curves["metric"] == "stsb_dev"]
    seen = set()
    for (label, _model), run in dev.groupby(["label", "model"], sort=True):
        run = run.sort_values("step")
        name = run["name"].iloc[0]
        dev_ax.plot(
            run["step"],
            run["value"],
            color=palette[label],
            lw=1.2,
            marker="o",
            ms=3,
            label=name if label not in seen else None,
            alpha=0.85,
        )
        seen.add(label)
    if reference is not None and np.isfinite(reference[1]):
        dev_ax.axhline(reference[1], color="0.3", ls="--", lw=1.0, label=reference[0])
    if dev.empty:
        dev_ax.text(0.5, 0.5, "no STS-B dev logged", ha="center", transform=dev_ax.transAxes)
    dev_ax.set_xlabel("training step")
    dev_ax.set_ylabel("STS-B dev " + SCORE_LABEL)
    dev_ax.grid(alpha=0.3)
    dev_ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def _loss_curves(ax, curves: pd.DataFrame, label: str, colour, ylabel: bool) -> None:
    """One loss panel of :func:`plot_training_curves` (one variant, one line per seed)."""
    loss = curves[curves["metric"] == "loss"]
    sub = loss[loss["label"] == label]
    for _model, run in sub.groupby("model", sort=True):
        run = run.sort_values("step")
        ax.plot(run["step"], run["value"], color=colour, lw=1.0, marker=".", ms=3)
    names = curves.loc[curves["label"] == label, "name"]
    title = "\n".join(textwrap.wrap(str(names.iloc[0] if len(names) else label), 28))
    losses = curves.loc[curves["label"] == label].get("loss", pd.Series(dtype=object)).dropna()
    if len(losses) and losses.iloc[0]:  # which loss the panel shows (its scale is its own)
        title += f"\nloss: {losses.iloc[0]}"
    ax.set_title(title, fontsize=8)  # panels sit side by side
    ax.set_xlabel("step")
    if ylabel:
        ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
    if sub.empty:
        ax.text(0.5, 0.5, "no loss logged", ha="center", transform=ax.transAxes)


def plot_training_curves(
    curves: pd.DataFrame,
    palette: dict,
    stem: str | Path,
    reference: tuple[str, float] | None = None,
) -> list[Path]:
    """Top: STS-B dev Spearman against the step, one line with markers per seed, and a dashed
    line for the untrained student (``reference`` = (label, dev score)). Below: the training
    loss, one panel per variant (objectives differ in scale by orders of magnitude).

    ``curves`` holds the tidy ``task == "train"`` rows of the runs to show plus ``label``
    (the palette key) and ``name`` (the legend text) columns.
    """
    if curves.empty:
        return note_figure(stem, "Training curves", "no training log among the inputs")
    if "name" not in curves:
        curves = curves.assign(name=curves["label"])
    variants = list(dict.fromkeys(curves.sort_values("label")["label"]))
    ncols = min(len(variants), 5)
    nrows_loss = -(-len(variants) // ncols)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(2.3 * ncols + 1.5, 3.2 + 2.0 * nrows_loss), layout="constrained")
        grid = fig.add_gridspec(1 + nrows_loss, ncols, height_ratios=[1.6] + [1] * nrows_loss)
        _dev_curves(fig.add_subplot(grid[0, :]), curves, palette, reference)
        for i, label in enumerate(variants):
            ax = fig.add_subplot(grid[1 + i // ncols, i % ncols])
            _loss_curves(ax, curves, label, palette[label], ylabel=i % ncols == 0)
        return save_figure(fig, stem)


def spread_positions(values: list[float], min_gap: float) -> list[float]:
    """Positions as close as possible to ``values`` (any order) with at least ``min_gap``
    between neighbours (labels that must not overlap); the mean shift is kept at zero."""
    order = np.argsort(values)
    pos = np.asarray(values, dtype=float)[order].copy()
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + min_gap)
    pos -= (pos - np.asarray(values, dtype=float)[order]).mean()
    for i in range(1, len(pos)):  # re-establish the gaps after centring
        pos[i] = max(pos[i], pos[i - 1] + min_gap)
    out = np.empty_like(pos)
    out[order] = pos
    return out.tolist()


def _minor_log_label(value: float, _pos: int) -> str:
    """Label only the 2x and 5x minor ticks of a log axis (keeps labels apart)."""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if round(mantissa) in (2, 5) else ""


def _size_quality_points(main: pd.DataFrame) -> pd.DataFrame:
    """Rows of the size-vs-quality figure with their x position (``x``, millions)."""
    data = main.dropna(subset=["params", "avg"]).copy()
    encoders = data["hparams"].isna()
    if encoders.any():  # one point per untrained encoder: its pooling best on STS-B dev
        key = data["stsb_dev"].fillna(data["avg"])
        best = key[encoders].groupby(data.loc[encoders, "variant"]).idxmax()
        data = data[~encoders | data.index.isin(best.to_numpy())]
    data["millions"] = data["params"] / 1e6
    # points of (nearly) equal size are spread sideways so no marker hides another
    data["x"] = data["millions"]
    for _, same in data.groupby(data["millions"].round(1)):
        if len(same) > 1:
            factors = 1.0 + 0.025 * (np.arange(len(same)) - (len(same) - 1) / 2)
            data.loc[same.sort_values("avg").index, "x"] = same["millions"].iloc[0] * factors
    return data


FAMILY_NOTE = " Filled: transformers; hollow: static models (one vector per token, model2vec)."


def size_quality_figure(main: pd.DataFrame, palette: dict, teachers: tuple[str, ...] = ()):
    """The size-vs-quality figure (returned, not saved; see :func:`plot_size_quality`)."""
    data = _size_quality_points(main)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
        for _, row in data.iterrows():
            trained = not pd.isna(row["hparams"]) and row.get("group") == "trained"
            teacher = str(row.get("variant")) in teachers and not trained
            lo, hi = _yerr(row, ["avg"])[:, 0]
            static = row.get("family") == "static"  # hollow: a token-vector model
            ax.errorbar(
                row["x"],
                row["avg"],
                yerr=None if row.get("err_kind", "none") == "none" else [[lo], [hi]],
                marker="*" if teacher else ("o" if trained else "s"),
                ms=11 if teacher else 7,
                mfc="white" if static else palette[row["label"]],
                mew=1.5,
                capsize=3,
                ls="none",
                color=palette[row["label"]],
            )
        ax.set_xscale("log")
        ax.set_xlim(data["x"].min() / 1.6, data["x"].max() * 4.0)
        y0, y1 = data["avg"].min(), data["avg"].max()
        gap = 0.05 * (y1 - y0 + 2)
        ys = spread_positions(list(data["avg"]), gap)
        ax.set_ylim(min(y0, *ys) - gap, max(y1, *ys) + gap)
        for (_, row), y in zip(data.iterrows(), ys, strict=True):
            teacher = str(row.get("variant")) in teachers and row.get("group") != "trained"
            text = row_name(row) + (" — teacher" if teacher else "")
            ax.annotate(
                text,
                xy=(row["x"], row["avg"]),
                xytext=(data["x"].max() * 1.35, y),
                textcoords="data",
                fontsize=7.5,
                va="center",
                arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5},
            )
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
        ax.tick_params(axis="x", which="minor", labelsize=8)
        ax.set_xlabel("parameters (millions, log scale)")
        ax.set_ylabel("7-task average " + SCORE_LABEL)
        ax.grid(alpha=0.3, which="both")
        kinds = data.get("err_kind", pd.Series("none", index=data.index))
        missing = [t for t in teachers if t not in set(data["variant"].astype(str))]
        note = (
            _error_caption(kinds) + " Squares: untrained; circles: trained; stars: teachers "
            "(untrained encoders: the pooling best on STS-B dev)."
            + (FAMILY_NOTE if (data.get("family", pd.Series()) == "static").any() else "")
            + " Points of one size are "
            "spread sideways by a few percent so that none hides another."
        )
        if missing:
            note += f" Teacher(s) not evaluated in this run: {', '.join(missing)}."
        ax.set_title("\n".join(textwrap.wrap(note, 120)), fontsize=7.5, loc="left")
        return fig, ax


def plot_size_quality(
    main: pd.DataFrame, palette: dict, stem: str | Path, teachers: tuple[str, ...] = ()
) -> list[Path]:
    """Parameters (log scale) against the 7-task average, every main-table row labelled (labels
    spread so none overlaps), the teacher(s) starred, error bars as in the per-task plot."""
    if main.dropna(subset=["params", "avg"]).empty:
        return note_figure(stem, "Size vs quality", "no result records its parameter count")
    fig, _ = size_quality_figure(main, palette, teachers)
    return save_figure(fig, stem)
