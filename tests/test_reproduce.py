"""The Snakemake-free runner (python -m distilface.reproduce): the same jobs as Snakemake's own
dry-run, DAG order, deadline, failures."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from snake import snakemake

from distilface import reproduce
from distilface.core import paths
from distilface.plan.grid import trained_model_ids

REPO = Path(__file__).resolve().parents[1]
SOURCES = yaml.safe_load((REPO / "config/sources.yaml").read_text(encoding="utf-8"))


def load_config(name: str) -> dict:
    path = REPO / "config" / name
    return reproduce.prepare_config(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def gpu_config() -> dict:
    return load_config("gpu.yaml")


def snakemake_jobs(config_name: str, cwd: Path) -> dict[str, list[tuple[str, str]]]:
    """``{rule: [(output, wildcards), ...]}`` of every job ``snakemake -n --forceall`` plans."""
    args = ["-n", "--forceall", "--configfile", str(REPO / "config" / config_name)]
    proc = snakemake(args, cwd=cwd)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    jobs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout):
        head = re.match(r"(?:local)?rule (\w+):", block)
        output = re.search(r"^    output: (.*)$", block, re.M)
        if head and output:
            wildcards = re.search(r"^    wildcards: (.*)$", block, re.M)
            jobs[head.group(1)].append((output.group(1), wildcards.group(1) if wildcards else ""))
    assert jobs["train"] and jobs["evaluate"], proc.stdout[-3000:]
    return jobs


@pytest.mark.parametrize("config_name", ["gpu.yaml", "ci.yaml"])
def test_the_plan_is_the_job_list_of_snakemakes_dry_run(config_name: str, tmp_path: Path) -> None:
    """Every model trained, every model evaluated, every teacher cache, student and data file
    the runner plans is a job Snakemake's own dry-run lists for the same config, and none is
    missing (efficiency, release and report jobs are Snakemake's alone)."""
    jobs = snakemake_jobs(config_name, tmp_path)
    steps = defaultdict(set)
    for step in reproduce.plan(load_config(config_name), SOURCES):
        steps[step.kind].add(step.output if step.kind != "eval" else step.name)

    def outputs(*rules: str) -> set[str]:
        return {out.split(", ")[0] for rule in rules for out, _ in jobs[rule]}

    assert steps["train"] == outputs("train")
    evaluated = {wc.removeprefix("model=") for _, wc in jobs["evaluate"]}
    assert steps["eval"] == evaluated
    assert steps["teacher_cache"] == {o for o in outputs("teacher_cache") if o.endswith(".npy")}
    assert steps["student"] == outputs("student_init")
    assert steps["data"] == outputs("senteval", "corpus", "nli", "derived_data")
    assert set(steps) == {"data", "student", "teacher_cache", "train", "eval"}


def test_the_data_files_are_where_the_sources_put_them() -> None:
    """``core.paths.DATA_FILES`` (the rules' outputs) == each source's ``dest``."""
    assert paths.DATA_FILES == {n: s["dest"] for n, s in SOURCES["sources"].items()}


def test_fine_tunes_run_after_the_run_they_start_from() -> None:
    cfg = gpu_config()
    order = [r.model_id for r in reproduce.ordered_runs(cfg)]
    assert sorted(order) == sorted(trained_model_ids(cfg))
    for i, run in enumerate(reproduce.ordered_runs(cfg)):
        if run.init_from:
            assert run.init_from in order[:i], run.model_id
    steps = [(s.kind, s.name) for s in reproduce.plan(cfg, SOURCES)]
    for run in reproduce.ordered_runs(cfg):  # trained, then scored
        assert steps.index(("train", run.model_id)) < steps.index(("eval", run.model_id))


def test_the_config_gets_the_snakefiles_defaults() -> None:
    raw = yaml.safe_load((REPO / "config/gpu.yaml").read_text(encoding="utf-8"))
    assert "precision" not in raw["evaluation"]
    cfg = gpu_config()
    assert cfg["evaluation"]["precision"] == "auto" and cfg["evaluation"]["threads"] == 2
    assert "precision" not in raw["evaluation"], "the caller's config must not change"


def test_deadline_stops_new_work_and_logs_every_step(tmp_path: Path, monkeypatch) -> None:
    """With the deadline already spent nothing runs; every step is logged as skipped, and the
    evaluation of a model that was never trained says so (no score is invented)."""
    monkeypatch.chdir(tmp_path)
    cfg = gpu_config()
    steps = reproduce.run_config(cfg, SOURCES, deadline_s=-1.0, log_path="log.jsonl")
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
