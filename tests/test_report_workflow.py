"""End to end: the quick config's report rules over synthetic result files (the real file
formats), `snakemake --report`, and the report opened in headless Chromium (Debian's
chromium-headless-shell, installed by .ci/tools.sh): the landing page shows the main table."""

from __future__ import annotations

import copy
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snake import snakemake
from synthetic import write_eval, write_train_log

from distilface.core.names import EVAL_POOLINGS
from distilface.plan.grid import all_model_ids, trained_model_ids

REPO = Path(__file__).resolve().parents[1]
# the quick config plus one ablation axis, so the ablation rules run too
ABLATION = {"simcse-random": {"temperature": [0.1]}}


def quick_config() -> dict:
    config = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    return {**copy.deepcopy(config), "ablations": ABLATION}


def write_results(root: Path, config: dict) -> None:
    """An eval JSON (+ per-pair scores) for every model x pooling the config evaluates, and a
    training log for every trained run."""
    models = list(config["baselines"]["models"]) + all_model_ids(config)
    for i, model in enumerate(models):
        params = 22_713_216 if model in config["models"] else 17_241_216
        for j, pooling in enumerate(EVAL_POOLINGS):
            noise = 0.2 + 0.05 * ((i + j) % 7)
            write_eval(root / "results/eval", model, pooling, noise, seed=10 * i + j, params=params)
    for i, model in enumerate(trained_model_ids(config)):
        write_train_log(root / "results/models", model, steps=10, seed=i)


def chromium() -> str:
    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("headless Chromium missing in CI: .ci/tools.sh installs it")
    pytest.skip("no headless Chromium (apt-get install chromium-headless-shell)")


def rendered_text(browser: str, page: Path) -> str:
    """The page's DOM after its scripts ran, scripts and tags removed (what a reader sees)."""
    run = subprocess.run(
        [
            browser,
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=15000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", run.stdout, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


@pytest.mark.slow
def test_quick_config_report_builds_and_renders_in_chromium(tmp_path):
    browser = chromium()
    config = quick_config()
    write_results(tmp_path, config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    def report_workflow(*args: str) -> subprocess.CompletedProcess:
        configfile = ["--configfile", str(tmp_path / "config.yaml")]
        return snakemake([*configfile, *args], tmp_path, 900, "Snakefile.report")

    run = report_workflow("--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    main = pd.read_csv(tmp_path / "results/tables/main.csv")
    ours = main[main["group"] != "published"]
    # one row per variant of the config and per baseline encoder x pooling
    # (baselines: the poolings the config lists; the baselines table has all five)
    expected = set(config["variants"]) | {
        f"{m}/{p}" for m in config["baselines"]["models"] for p in config["baselines"]["poolings"]
    }
    assert set(ours["key"]) == expected
    assert set(main["group"]) == {"baseline", "trained"}  # quick.yaml compares no paper row
    for name in ("ablation_simcse-random-temperature", "per_task", "training_curves"):
        assert (tmp_path / f"results/figures/{name}.png").stat().st_size > 1000
    for table in ("main", "baselines", "seeds", "comparisons", "efficiency"):
        assert "<table" in (tmp_path / f"results/tables/{table}.html").read_text()
    if shutil.which("pdflatex") or os.environ.get("CI"):
        from test_report_latex import compile_table  # the quick config's main.tex compiles

        compile_table(tmp_path / "results/tables/main.tex", tmp_path / "latex")

    report = tmp_path / "results/report.html"
    run = report_workflow("--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    text = " ".join(rendered_text(browser, report).split())
    # the landing page shows the main table: header, a trained row's label and its avg
    assert "Headline results" in text
    last = [v for v, spec in config["variants"].items() if spec.get("objective") != "none"][-1]
    row = ours[ours["key"] == last].iloc[0]  # the last trained variant
    assert "STS12 STS13 STS14 STS15 STS16 STS-B SICK-R Avg" in text
    assert f"{row['Model']} mean" in text and f"{row['Avg']:.2f}" in text


def test_committed_gpu_reference_report_shows_its_main_table():
    """results/reference/gpu-h100/report.html (make reference-report) opens in Chromium and
    its landing page shows the committed main table."""
    browser = chromium()
    ref = REPO / "results/reference/gpu-h100"
    main = pd.read_csv(ref / "tables/main.csv")
    text = " ".join(rendered_text(browser, ref / "report.html").split())
    assert "Headline results" in text
    for _, row in main[main["group"] == "trained"].iterrows():
        assert f"{row['Avg']:.2f} ± {row['Avg std']:.2f}" in text, row["Model"]


def test_committed_gpu_reference_rebuilds_its_main_table(tmp_path):
    """`make reference-report`'s first step on the committed raw results: the reference config
    still parses under today's grid (e.g. no temperature on disco_kd) and the rebuilt main table
    equals the committed one."""
    import tarfile

    ref = REPO / "results/reference/gpu-h100"
    with tarfile.open(ref / "raw_results.tar.gz") as tf:
        tf.extractall(tmp_path, filter="data")
    args = ["--configfile", str(ref / "config.yaml"), "--cores", "2", "results/tables/main.csv"]
    run = snakemake(args, tmp_path, 900, "Snakefile.report")
    assert run.returncode == 0, run.stderr[-3000:]
    rebuilt = pd.read_csv(tmp_path / "results/tables/main.csv").set_index("key")
    committed = pd.read_csv(ref / "tables/main.csv").set_index("key")
    assert sorted(rebuilt.index) == sorted(committed.index)
    pd.testing.assert_series_equal(
        rebuilt.loc[committed.index, "Avg"], committed["Avg"], check_exact=False, atol=1e-9
    )
