"""Fault classes of the README's reliability table, one test (or more) per row.

Each test feeds a hostile-but-realistic input and asserts that the run fails loudly, naming
the key / file / line, and that nothing partial is left behind. The config typos live in
tests/test_config.py (row "config typo"); resume after SIGKILL in tests/test_train.py.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from distilface import download as dl

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- row: offline first run (download impossible) ------------------------------------------


def test_download_failure_prints_the_mirror_hint(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch("http://127.0.0.1:9/senteval.tar", tmp_path / "x", sha256="0" * 64)
    assert dl.MIRROR_CONFIG in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing partial


def test_the_mirror_hint_is_the_readme_form_everywhere() -> None:
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in (REPO / "README.md").read_text()
    config_text = (REPO / "config" / "config.yaml").read_text(encoding="utf-8")
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in config_text
    assert "data_mirror" not in config_text


@pytest.mark.slow
def test_the_mirror_hint_works_as_printed(tmp_path: Path) -> None:
    """The hint's command line, verbatim, on the papers' config (data.mirror: null), from a
    work dir with ../shared/data beside it: the corpus comes from the mirror, checksummed."""
    if not (SHARED_DATA / "corpus").is_dir():
        pytest.skip(f"no mirror at {SHARED_DATA}")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    work = tmp_path / "work"
    work.mkdir()
    target = "results/data/corpus/wiki1m_for_simcse.txt"
    hint = shlex.split(dl.MIRROR_CONFIG)
    # appended last, as the hint says (--config takes every following word)
    args = [target, "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), *hint]
    proc = snakemake(args, work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = work / target
    record = json.loads((out.parent / "MANIFEST.json").read_text())["files"][out.name]
    assert record["origin"].endswith("corpus/wiki1m_for_simcse.head.txt"), record
    assert record["verified"] is True and record["bytes"] == out.stat().st_size
