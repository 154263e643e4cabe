"""The Snakemake-free runner (python -m distilface.reproduce): DAG order, deadline, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from distilface import reproduce
from distilface.train.grid import all_model_ids, trained_model_ids

REPO = Path(__file__).resolve().parents[1]


def gpu_config() -> dict:
    return yaml.safe_load((REPO / "config/gpu.yaml").read_text(encoding="utf-8"))


def test_fine_tunes_run_after_the_run_they_start_from() -> None:
    cfg = gpu_config()
    order = [r.model_id for r in reproduce.ordered_runs(cfg)]
    assert sorted(order) == sorted(trained_model_ids(cfg))
    for i, run in enumerate(reproduce.ordered_runs(cfg)):
        if run.init_from:
            assert run.init_from in order[:i], run.model_id


def test_evaluated_models_match_the_snakefile() -> None:
    cfg = gpu_config()
    ids = [m for m, _ in reproduce.evaluated_models(cfg)]
    assert ids == cfg["baselines"]["models"] + all_model_ids(cfg)


def test_deadline_stops_new_work_and_logs_every_step(tmp_path: Path, monkeypatch) -> None:
    """With the deadline already spent nothing runs; every step is logged as skipped, and the
    evaluation of a model that was never trained says so (no score is invented)."""
    monkeypatch.chdir(tmp_path)
    cfg = gpu_config()
    sources = yaml.safe_load((REPO / "config/sources.yaml").read_text(encoding="utf-8"))
    steps = reproduce.run_config(cfg, sources, deadline_s=-1.0, log_path="log.jsonl")
    kinds = {s["kind"] for s in steps}
    assert {"data", "student", "teacher_cache", "train", "eval"} <= kinds
    assert all(s["status"].startswith("skipped") for s in steps)
    trained = [s for s in steps if s["kind"] == "eval" and s["name"] in trained_model_ids(cfg)]
    assert trained and all(s["status"] == "skipped: not trained" for s in trained)
    logged = [json.loads(line) for line in Path("log.jsonl").read_text().splitlines()]
    assert len(logged) == len([s for s in steps if "output" in s])
    assert not Path("results/eval").exists()


def test_a_failing_step_is_recorded_and_the_runner_exits_nonzero(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = yaml.safe_load((REPO / "config/ci.yaml").read_text(encoding="utf-8"))
    cfg["data"]["mirror"] = str(tmp_path / "no-mirror-here")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(SystemExit, match="failed steps"):
        reproduce.main(
            [
                "--config",
                "c.yaml",
                "--sources",
                str(REPO / "config/sources.yaml"),
                "--deadline-s",
                "60",
            ]
        )
    summary = json.loads(Path("results/reproduce_summary.json").read_text())
    data = [s for s in summary["steps"] if s["kind"] == "data" and "output" in s]
    assert data and all(s["status"].startswith("failed: MirrorError") for s in data)
    derived = [s for s in summary["steps"] if s["kind"] == "data" and "output" not in s]
    assert [s["status"] for s in derived] == ["skipped: no senteval"]  # the SICK triplets
    assert "no-mirror-here" in data[0]["status"]
