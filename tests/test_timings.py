"""Per-job Snakemake benchmark files -> the timings tables (rule `timings`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from distilface.report.timings import read_benchmarks, rule_summary, write_timings

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(root: Path, rel: str, seconds: float, rss_mb: float = 100.0) -> None:
    path = root / f"{rel}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss_mb}\t1\t1\t1\t0\t0\t50.0\t{seconds / 2}\n")


def test_jobs_and_rule_summary(tmp_path: Path) -> None:
    root = tmp_path / "benchmarks"
    _bench(root, "evaluate/minilm-l6", 80.0)
    _bench(root, "evaluate/simcse/t0.05/seed42", 40.0)
    _bench(root, "train/simcse/t0.05/seed42", 130.0, rss_mb=2000.0)
    jobs = read_benchmarks(root)
    assert list(jobs["rule"]) == ["evaluate", "evaluate", "train"]
    assert list(jobs["job"]) == ["minilm-l6", "simcse/t0.05/seed42", "simcse/t0.05/seed42"]
    assert jobs["cpu_s"].tolist() == [40.0, 20.0, 65.0]
    assert jobs["max_rss_mib"].iloc[2] == pytest.approx(2000e6 / 2**20)
    summary = rule_summary(jobs).set_index("rule")
    assert list(summary.index) == ["train", "evaluate", "total"]  # slowest rule first
    assert summary.loc["evaluate", "jobs"] == 2 and summary.loc["evaluate", "total_s"] == 120.0
    assert summary.loc["evaluate", "median_s"] == 60.0 and summary.loc["evaluate", "max_s"] == 80
    assert summary.loc["train", "share"] == pytest.approx(130 / 250)
    assert summary.loc["total", "total_s"] == 250.0 and summary.loc["total", "jobs"] == 3


def test_write_timings_and_a_foreign_file_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "benchmarks"
    _bench(root, "report_tidy/tidy", 3.5)
    out = tmp_path / "tables"
    write_timings(root, out / "timings.csv", out / "timings.md", out / "timings.html")
    assert pd.read_csv(out / "timings.csv")["wall_s"].tolist() == [3.5]
    assert (
        "report_tidy" in (out / "timings.md").read_text()
        and "100.0%" in (out / "timings.html").read_text()
    )
    (root / "x").mkdir()
    (root / "x" / "bad.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="bad.tsv"):
        read_benchmarks(root)
