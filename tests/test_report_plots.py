"""Report figures: every plotting function writes a non-empty PNG and PDF."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from synthetic import SIMCSE_DEFAULTS, write_eval, write_train_log

from distilface.plan.grid import hparams_slug
from distilface.report import build, plots

DEFAULTS = {**SIMCSE_DEFAULTS, "pooling": "avg"}
HP = hparams_slug(DEFAULTS)
CONFIG = {
    "variants": {"simcse": {"objective": "simcse_unsup", "hparams": DEFAULTS, "seeds": [1, 2]}},
    "ablations": {"simcse": {"temperature": [0.05, 0.1], "dropout": [0.1]}},
}


@pytest.fixture()
def tidy_csv(tmp_path):
    evals = [
        write_eval(tmp_path / "eval", "minilm-l6", p, n, seed=i)
        for i, (p, n) in enumerate([("avg", 0.25), ("cls", 0.5), ("avg_first_last", 0.3)])
    ]
    evals.append(
        write_eval(tmp_path / "eval", "mpnet-base", "avg", 0.2, seed=9, params=109_500_000)
    )
    logs = []
    for hp in (HP, hparams_slug({**DEFAULTS, "temperature": 0.1})):
        for seed in (1, 2):
            model = f"simcse/{hp}/seed{seed}"
            evals.append(
                write_eval(
                    tmp_path / "eval",
                    model,
                    "cls_before_pooler",
                    0.22,
                    seed=seed,
                    params=17_200_000,
                )
            )
            logs.append(write_train_log(tmp_path / "models", model, seed=seed))
    build.build_tidy(evals, logs, tmp_path / "tidy.csv")
    return tmp_path / "tidy.csv"


def _assert_written(stem):
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        assert path.is_file() and path.stat().st_size > 1000, path


def test_main_figures(tidy_csv, tmp_path):
    build.build_figures(tidy_csv, CONFIG, tmp_path / "figures")
    for name in ("per_task", "training_curves", "size_quality"):
        _assert_written(tmp_path / "figures" / name)


def test_ablation_figure_and_one_value_note(tidy_csv, tmp_path, caplog):
    build.build_ablation(
        tidy_csv, CONFIG, "simcse-temperature", tmp_path / "a.csv", tmp_path / "abl_t"
    )
    _assert_written(tmp_path / "abl_t")
    with caplog.at_level(logging.WARNING):
        build.build_ablation(
            tidy_csv, CONFIG, "simcse-dropout", tmp_path / "b.csv", tmp_path / "abl_d"
        )
    _assert_written(tmp_path / "abl_d")
    assert "axis has one value (0.1)" in caplog.text and "plot skipped" in caplog.text


def test_each_loss_panel_names_its_loss(monkeypatch):
    """The loss panels (one per variant, each on its own scale) say which loss they show."""
    from distilface.plan.objectives import OBJECTIVES

    captured = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, stem: captured.append(fig) or [])
    rows = [
        {"model": f"{v}/x/seed1", "label": v, "name": v, "metric": m, "step": step,
         "value": 1.0 / step, "loss": OBJECTIVES[o].loss_label}
        for v, o in (("kd", "disco_kd"), ("ckd", "disco_ckd"))
        for m in ("loss", "stsb_dev")
        for step in (1, 2, 3)
    ]  # fmt: skip
    plots.plot_training_curves(pd.DataFrame(rows), {"kd": "C0", "ckd": "C1"}, "unused")
    titles = [ax.get_title() for ax in captured[0].axes]
    assert any(t.endswith("loss: MSE to the teacher") for t in titles)
    assert any(t.endswith("loss: InfoNCE, teacher positives") for t in titles)
    plt.close(captured[0])


def test_training_curves_without_logs_is_a_note(tmp_path):
    empty = pd.DataFrame(columns=["label", "model", "metric", "step", "value"])
    plots.plot_training_curves(empty, {}, tmp_path / "curves")
    _assert_written(tmp_path / "curves")


def test_palette_is_stable_and_distinct():
    a = plots.variant_palette(["simcse", "kd", "minilm-l6/avg"])
    b = plots.variant_palette(["minilm-l6/avg", "simcse", "kd", "kd"])
    assert a == b and len(set(a.values())) == 3


def test_error_bars_are_one_kind_the_bootstrap_ci_of_the_seeds_mean(tidy_csv):
    """Every row gets the same kind of interval (issue 22): the percentile bootstrap CI over
    sentence pairs, for several seeds of their mean score (same resampled pairs per seed)."""
    from distilface.report import stats, tables
    from distilface.report.tidy import read_tidy

    frame = read_tidy(tidy_csv)
    wide = tables.scores_wide(frame)
    selected = tables.select_main(wide, CONFIG)
    config = {**CONFIG, "report": {"n_bootstrap": 50}}
    rows = build.with_error_bars(frame, wide, selected, config)
    assert set(rows["err_kind"]) == {"ci"}
    simcse = rows.set_index("label").loc["simcse"]
    runs = wide[(wide["variant"] == "simcse") & (wide["hparams"] == HP)]
    assert len(runs) == 2
    pairs = build._pairs(frame, list(runs["model"]), simcse["pooling"])
    reps = stats.bootstrap_tasks(pairs, 50, 0, "all").mean(axis=0)[-1]
    low, high = stats.percentile_ci(reps, 0.95)
    mean = runs["avg"].mean()
    assert simcse["avg"] == pytest.approx(mean)
    assert simcse["avg_err_lo"] == pytest.approx(max(mean - low, 0))
    assert simcse["avg_err_hi"] == pytest.approx(max(high - mean, 0))
    base = rows.set_index("label").loc["minilm-l6/avg"]
    assert 0 < base["avg_err_lo"] < 10 and 0 < base["avg_err_hi"] < 10


def test_error_bars_none_without_pair_scores(tidy_csv, tmp_path):
    from distilface.report import tables
    from distilface.report.tidy import read_tidy

    frame = read_tidy(tidy_csv)
    for npz in tmp_path.rglob("minilm-l6/avg.scores.npz"):
        npz.unlink()
    wide = tables.scores_wide(frame)
    kind, bars = build.error_bars(frame, wide, ["minilm-l6"], "avg", CONFIG)
    assert kind == "none" and np.isnan(bars["avg"][0])


def test_spread_positions_keeps_labels_apart():
    ys = plots.spread_positions([66.7, 67.1, 67.7, 22.7, 59.9, 58.4], 2.0)
    ordered = sorted(ys)
    assert all(b - a >= 2.0 - 1e-9 for a, b in zip(ordered, ordered[1:], strict=False))
    assert ys[3] == pytest.approx(22.7, abs=3.0)  # an isolated point stays near its value


def test_size_quality_labels_do_not_overlap_and_teacher_is_starred(tidy_csv):
    from distilface.report import tables
    from distilface.report.tidy import read_tidy

    frame = read_tidy(tidy_csv)
    wide = tables.scores_wide(frame)
    selected = tables.select_main(wide, CONFIG)
    palette = plots.variant_palette(selected["label"])
    fig, ax = plots.size_quality_figure(selected, palette, teachers=("mpnet-base",))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(selected.drop_duplicates("variant"))  # one point per encoder
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), "two point labels overlap"
    assert any(t.get_text().endswith("— teacher") for t in ax.texts)
    assert any(line.get_marker() == "*" for line in ax.lines)
    plt.close(fig)


def test_size_quality_draws_static_models_hollow_and_says_so(tidy_csv):
    from matplotlib.colors import to_rgba

    from distilface.report import tables
    from distilface.report.tidy import read_tidy

    selected = tables.select_main(tables.scores_wide(read_tidy(tidy_csv)), CONFIG)
    palette = plots.variant_palette(selected["label"])
    static = selected["variant"] == selected["variant"].iloc[0]
    fig, ax = plots.size_quality_figure(
        selected.assign(family=np.where(static, "static", "transformer")), palette
    )
    faces = {to_rgba(line.get_markerfacecolor()) == to_rgba("white") for line in ax.lines}
    assert faces == {True, False} and plots.FAMILY_NOTE.split(";")[0].strip() in ax.get_title(
        loc="left"
    ).replace("\n", " ")
    plt.close(fig)
    fig, ax = plots.size_quality_figure(selected, palette)  # no static row: no such note
    assert "hollow" not in ax.get_title(loc="left")
    plt.close(fig)


def test_categorical_ablation_axis_draws_no_line(monkeypatch, tmp_path):
    captured = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, stem: captured.append(fig) or [])
    table = pd.DataFrame(
        {
            "value": ["cls", "avg"],
            "variant": ["v", "v"],
            "n_seeds": [3, 1],
            "avg_mean": [60.0, 65.0],
            "avg_std": [0.4, np.nan],
            "stsb_dev_mean": [65.0, 70.0],
            "stsb_dev_std": [0.5, np.nan],
            "avg_ci_low": [np.nan, 64.0],
            "avg_ci_high": [np.nan, 66.5],
        }
    )
    plots.plot_ablation(table, "pooling", "C0", tmp_path / "x")
    (fig,) = captured
    for ax in fig.axes:
        # only markers: no line joins the categories
        assert all(line.get_linestyle() in ("None", "") for line in ax.lines)
        assert ax.get_xlabel() == "pooling (training → evaluation)"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cls → CLS", "avg → mean"]
    plt.close(fig)


def test_a_doubling_axis_is_log2_and_the_untrained_start_is_drawn(monkeypatch, tmp_path):
    """Batch size doubles: its points are evenly spaced (log2 axis); the untrained start point
    is a dashed line at its score in both panels, named in the caption."""
    captured = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, stem: captured.append(fig) or [])
    table = pd.DataFrame(
        {
            "value": [32, 64, 128],
            "variant": ["v"] * 3,
            "n_seeds": [1, 3, 1],
            "avg_mean": [61.0, 60.0, 55.0],
            "avg_std": [np.nan, 0.4, np.nan],
            "stsb_dev_mean": [67.0, 65.0, 60.0],
            "stsb_dev_std": [np.nan, 0.5, np.nan],
        }
    )
    start = {"label": "3-layer student, untrained", "avg": 67.06, "stsb_dev": 73.82}
    plots.plot_ablation(table, "batch_size", "C0", tmp_path / "x", reference=start)
    (fig,) = captured
    for ax, col in zip(fig.axes, ("avg", "stsb_dev"), strict=True):
        assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert len(dashed) == 1 and dashed[0].get_ydata()[0] == start[col]
    assert "Dashed: 3-layer student, untrained." in fig._supxlabel.get_text()
    plt.close(fig)
