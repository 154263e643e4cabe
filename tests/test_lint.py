"""`snakemake --lint` is clean for every config, and both profiles are valid Snakemake 9."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from snake import snakemake as run_snakemake

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
CONFIGS = [REPO / "config" / "config.yaml", REPO / "config" / "quick.yaml"]


def snakemake(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Snakemake (tests/snake.py) on the Snakefile in ``cwd``; stdout and stderr merged."""
    return run_snakemake(args, cwd, 300, snakefile=None, merge_output=True)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_lint_is_clean(config: Path) -> None:
    if not SNAKEFILE.is_file():
        pytest.skip("no Snakefile yet")
    res = snakemake(["--lint", "--configfile", str(config)], REPO)
    assert "Lints for" not in res.stdout, res.stdout[-6000:]
    assert res.returncode == 0, res.stdout[-6000:]


TINY = """
rule all:
    input:
        "out/b.txt",

rule a:
    output:
        "out/a.txt",
    log:
        "logs/a.log",
    resources:
        gpu=1,
    shell:
        "echo a > {output} 2> {log}"

rule b:
    input:
        "out/a.txt",
    output:
        "out/b.txt",
    log:
        "logs/b.log",
    shell:
        "cat {input} > {output} 2> {log}"
"""


@pytest.mark.parametrize("profile", ["workstation", "slurm"])
def test_profile_is_accepted_by_snakemake(profile: str, tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(TINY, encoding="utf-8")
    res = snakemake(["--profile", str(REPO / "profiles" / profile), "--dry-run"], tmp_path)
    assert res.returncode == 0, res.stdout[-4000:]
    assert f"Using profile {REPO / 'profiles' / profile}" in res.stdout
    assert "rule a:" in res.stdout and "rule b:" in res.stdout


GPU_PAIR = """
rule all:
    input:
        "g1.txt",
        "g2.txt",

rule gpu_job:
    output:
        "g{i}.txt",
    resources:
        gpu=1,
    shell:
        # mkdir is atomic: it fails when the other GPU job holds the card right now.
        "if mkdir card.lock 2>/dev/null; then echo alone > {output}; sleep 3; rmdir card.lock; "
        "else echo shared > {output}; sleep 3; fi"
"""


def test_workstation_profile_never_runs_two_gpu_jobs_at_once(tmp_path: Path) -> None:
    """The profile's global `gpu: 1` serialises GPU jobs even with free cores."""
    profile = REPO / "profiles" / "workstation"
    for limit, expected in (([], {"alone"}), (["--resources", "gpu=2"], {"alone", "shared"})):
        workdir = tmp_path / f"limit{len(limit)}"
        workdir.mkdir()
        (workdir / "Snakefile").write_text(GPU_PAIR, encoding="utf-8")
        res = snakemake(["--profile", str(profile), "--cores", "2", *limit], workdir)
        assert res.returncode == 0, res.stdout[-4000:]
        seen = {(workdir / f"g{i}.txt").read_text().strip() for i in (1, 2)}
        assert seen == expected, (limit, seen)
