"""The README's commands, as a newcomer types them: `make quick`, then `make report` (which
reports the last run's config), then `make test`. `make -n` prints what each would run, so a
renamed target, config or script fails here instead of on a user's machine (issue 19)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from snake import REPO


def _make_n(*args: str) -> str:
    res = subprocess.run(
        ["make", "-n", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def _configfiles(text: str) -> list[str]:
    return re.findall(r"--configfile (\S+)", text)


@pytest.mark.parametrize(
    ("target", "config"),
    [
        ("quick", "config/quick.yaml"),
        ("cpu-study", "config/cpu.yaml"),
        ("run", "config/config.yaml"),
    ],
)
def test_each_run_target_names_an_existing_config_and_remembers_it(target, config, tmp_path):
    last = tmp_path / "last"
    out = _make_n(target, f"LAST_CONFIG_FILE={last}")
    assert _configfiles(out) == [config] and (REPO / config).is_file()
    assert f"echo {config} > {last}" in out


def test_report_reports_the_last_runs_config(tmp_path):
    last = tmp_path / "last"
    assert _configfiles(_make_n("report", f"LAST_CONFIG_FILE={last}")) == ["config/config.yaml"]
    last.write_text("config/quick.yaml\n")
    out = _make_n("report", f"LAST_CONFIG_FILE={last}")
    assert _configfiles(out) == ["config/quick.yaml"]
    assert _configfiles(
        _make_n("report", f"LAST_CONFIG_FILE={last}", "CONFIG=config/cpu.yaml")
    ) == ["config/cpu.yaml"]


def test_test_target_runs_the_suite_and_the_readme_names_the_commands():
    out = _make_n("test")
    assert "pytest" in out and "ruff check" in out
    readme = (REPO / "README.md").read_text()
    for command in ("make quick", "make report", "make test"):
        assert command in readme, command
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test")


def _printed_mirror(*overrides: str) -> str:
    """``$(DISTILFACE_MIRROR)`` as the Makefile sets it, without one in the environment."""
    return subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(REPO),
            "--eval",
            "print-mirror: ; @echo $(DISTILFACE_MIRROR)",
            "print-mirror",
            *overrides,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "DISTILFACE_MIRROR"},
    ).stdout.strip()


def test_mirror_is_passed_only_when_the_shared_data_exists():
    assert _printed_mirror("DISTILFACE_MIRROR=") == ""  # empty: force the upstream downloads
    found = _printed_mirror()
    shared = (REPO.parent / "shared" / "data" / "senteval").is_dir()
    assert (found == str((REPO.parent / "shared" / "data").resolve())) == shared
    assert bool(found) == shared or not Path(found).exists()
