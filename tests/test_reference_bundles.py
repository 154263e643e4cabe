"""Every committed reference bundle re-renders unchanged (issue 22): its tables and figures are
what today's code makes of its raw results, byte for byte. ``report.html`` is left out: Snakemake
stamps it with the time it was made (``make reference-report`` rewrites it with the rest)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from snake import snakemake

REPO = Path(__file__).resolve().parents[1]
BUNDLES = sorted(p.parent.name for p in (REPO / "results/reference").glob("*/raw_results.tar.gz"))


@pytest.mark.slow
@pytest.mark.parametrize("bundle", BUNDLES)
def test_a_committed_bundle_re_renders_byte_for_byte(bundle: str, tmp_path: Path) -> None:
    ref = REPO / "results/reference" / bundle
    with tarfile.open(ref / "raw_results.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    args = ["--configfile", str(ref / "config.yaml"), "--cores", "2"]
    run = snakemake(args, tmp_path, 1200, "Snakefile.report")
    assert run.returncode == 0, run.stderr[-3000:]
    committed = sorted(p for d in ("tables", "figures") for p in (ref / d).iterdir())
    assert committed, f"{ref}: no tables or figures committed"
    stale = [
        str(p.relative_to(ref))
        for p in committed
        if p.read_bytes() != (tmp_path / "results" / p.parent.name / p.name).read_bytes()
    ]
    where = ref.relative_to(REPO)  # the Makefile takes REF relative to the repository
    assert not stale, f"re-rendered differently (run make reference-report REF={where}): {stale}"
