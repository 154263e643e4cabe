"""Snakemake in a test: the repository's Snakefile in a subprocess, the model hub switched off,
output captured; and the 'Job stats' table it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(
    args: list[str],
    cwd: Path,
    timeout: int = 600,
    snakefile: str | None = "Snakefile",
    env: dict[str, str] | None = None,
    merge_output: bool = False,
) -> subprocess.CompletedProcess:
    """``python -m snakemake -s <repo>/<snakefile> *args`` in ``cwd`` (``snakefile=None``: the
    Snakefile in ``cwd``; ``env``: the whole environment, default this one with the model hub
    switched off; ``merge_output``: stderr into stdout, in the order Snakemake wrote them)."""
    which = [] if snakefile is None else ["-s", str(REPO / snakefile)]
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *which, *args],
        cwd=cwd,
        env=OFFLINE_ENV if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table (rule -> jobs) Snakemake prints first, dry run or not."""
    table = output.split("Job stats:", 1)[1].split("\ntotal", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
