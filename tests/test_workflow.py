"""The Snakemake workflow as a user runs it: the DAG of every config resolves offline, and the
CI-sized config runs end to end on the real STS data (a re-run does nothing; the report builds).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snake import job_counts, snakemake

from distilface.core.names import EVAL_POOLINGS, STS_TASKS, TASK_LABELS
from distilface.plan.grid import all_model_ids, trained_model_ids
from distilface.report.targets import int8_targets

REPO = Path(__file__).resolve().parents[1]


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml", "cpu.yaml", "ci.yaml", "gpu.yaml"])
def test_dry_run_lists_every_job(name: str, tmp_path: Path) -> None:
    """`snakemake -n` resolves the whole DAG with no network: one evaluate job per model, one
    train job per trained grid point (full config: the papers' runs and every ablation)."""
    cfg = load(name)
    proc = snakemake(["-n", "--configfile", str(REPO / "config" / name)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    n_models = len(cfg["baselines"]["models"]) + len(all_model_ids(cfg))
    assert counts["evaluate"] == n_models
    assert counts.get("train", 0) == len(trained_model_ids(cfg))
    assert counts["report_main"] == 1 and counts["all"] == 1
    n_int8 = len(int8_targets(cfg))
    # every config reports int8 but the two offline studies, which leave it out for time
    assert (n_int8 > 0) == (name not in ("quick.yaml", "cpu.yaml"))
    assert counts.get("evaluate_int8", 0) == n_int8
    assert counts.get("export_int8", 0) == len({m for m, _ in int8_targets(cfg)})
    if name == "config.yaml":
        assert counts["train"] >= 25  # variants x seeds + the SimCSE ablation axes


def test_unknown_baseline_model_is_a_clear_error(tmp_path: Path) -> None:
    cfg = load("ci.yaml")
    cfg["baselines"]["models"] = ["no-such-model"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(["-n", "--configfile", str(path)], cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "baselines.models" in out and "no-such-model" in out


def test_schema_rejects_bad_pooling(tmp_path: Path) -> None:
    cfg = load("ci.yaml")
    cfg["baselines"]["poolings"] = ["max"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(["-n", "--configfile", str(path)], cwd=tmp_path)
    assert proc.returncode != 0 and "'max' is not one of" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory, shared_data: Path) -> Path:
    """`snakemake --cores 2` of config/ci.yaml in a scratch work dir, on the real mirror
    (``shared_data``: skipped without the real data, failed under CI)."""
    work = tmp_path_factory.mktemp("ci_run")
    cfg = load("ci.yaml")
    cfg["data"]["mirror"] = str(shared_data)
    (work / "ci.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(["--cores", "2", "--configfile", "ci.yaml"], cwd=work, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work


@pytest.mark.slow
def test_ci_config_end_to_end(ci_run: Path) -> None:
    """Every model has all five pooling files; the baselines table has seven finite Spearmans
    per scored row, in the range an untrained-to-tuned encoder gives on real STS data."""
    cfg = load("ci.yaml")
    for model in [*cfg["baselines"]["models"], *all_model_ids(cfg)]:
        for pooling in EVAL_POOLINGS:
            assert (ci_run / "results/eval" / model / f"{pooling}.json").is_file()
    table = pd.read_csv(ci_run / "results/tables/baselines.csv")
    scored = table[table["note"].isna()]
    assert set(scored["pooling"]) == {"cls_before_pooler", "avg", "avg_first_last", "avg_top2"}
    cols = [TASK_LABELS[t] for t in STS_TASKS]
    values = scored[cols].to_numpy(dtype=float)
    assert values.shape[1] == 7 and all(math.isfinite(v) for v in values.ravel())
    assert ((values > 30) & (values < 95)).all(), values
    # all-MiniLM-L6-v2 is a tuned sentence encoder: mean pooling is its strong setting
    avg_row = scored[scored["pooling"] == "avg"].iloc[0]
    assert avg_row["Avg"] > 70
    # the cls row says why it is not scored
    assert "pooler" in table[table["pooling"] == "cls"]["note"].iloc[0]
    res = json.loads((ci_run / "results/eval/minilm-l6/avg.json").read_text())
    assert res["tasks"]["STS12"]["n"] == 3108 and res["tasks"]["SICKRelatedness"]["n"] == 4927
    main = pd.read_csv(ci_run / "results/tables/main.csv")
    assert {"simcse-unsup", "disco-ckd-ft"} <= set(main["key"])
    label = main.set_index("key").loc["disco-ckd-ft", "Model"]  # human label, not the slug
    assert label in (ci_run / "results/tables/main.md").read_text()
    # the int8 student (efficiency.int8) in the efficiency table, next to its float32 self
    eff = pd.read_csv(ci_run / "results/tables/efficiency.csv").set_index("Model")
    row = eff.loc[label]
    assert 30 < row["Avg int8"] < 95 and abs(row["Δ int8"]) < 5, row
    assert row["int8 speed-up"] > 0 and row["Weights int8 (MiB)"] < row["Weights fp32 (MiB)"]
    assert eff.drop(index=label)["Δ int8"].isna().all()
    # every trained model has a release folder whose README is the model card
    cards = list((ci_run / "results/release/disco-ckd-ft").rglob("README.md"))
    assert cards and "## Evaluation" in cards[0].read_text()


@pytest.mark.slow
def test_rerun_does_nothing(ci_run: Path) -> None:
    proc = snakemake(["-n", "--configfile", "ci.yaml"], cwd=ci_run)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_changed_report_setting_reruns_exactly_the_report_jobs(ci_run: Path) -> None:
    """The report rules declare the config they read (params), so Snakemake sees a changed
    ``report.n_bootstrap``: the report jobs re-run, no model is trained or scored again."""
    args = ["-n", "--configfile", "ci.yaml", "--config", 'report={"n_bootstrap": 77}']
    proc = snakemake(args, cwd=ci_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts.get("report_main") == 1 and counts.get("report_comparisons") == 1, counts
    assert not {"train", "evaluate", "teacher_cache", "student_init"} & set(counts), counts
    assert "Params have changed" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_html_report(ci_run: Path) -> None:
    proc = snakemake(["--report", "results/report.html", "--configfile", "ci.yaml"], cwd=ci_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = ci_run / "results/report.html"
    assert html.stat().st_size > 10_000
    text = html.read_text(encoding="utf-8", errors="replace")
    assert "main.html" in text and "per_task.png" in text
