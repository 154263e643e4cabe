"""Report figures: every plotting function writes a non-empty PNG and PDF."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from distilface.grid import hparams_slug
from distilface.report import build, plots
from distilface.report.synthetic import SIMCSE_DEFAULTS, write_eval, write_train_log

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


def test_training_curves_without_logs_is_a_note(tmp_path):
    empty = pd.DataFrame(columns=["label", "model", "metric", "step", "value"])
    plots.plot_training_curves(empty, {}, tmp_path / "curves")
    _assert_written(tmp_path / "curves")


def test_palette_is_stable_and_distinct():
    a = plots.variant_palette(["simcse", "kd", "minilm-l6/avg"])
    b = plots.variant_palette(["minilm-l6/avg", "simcse", "kd", "kd"])
    assert a == b and len(set(a.values())) == 3
