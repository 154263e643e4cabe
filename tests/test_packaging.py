"""pyproject.toml: compatible ranges (the exact pins stay in requirements/lock.txt), the
``distilface`` script, licence and citation files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from envs import read_pins  # tools/envs.py

REPO = Path(__file__).resolve().parents[1]


def test_dependencies_are_ranges_that_the_lock_satisfies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = read_pins(REPO / "requirements/lock.txt")
    extras = [r for deps in project["optional-dependencies"].values() for r in deps]
    for spec in [*project["dependencies"], *extras]:
        req = Requirement(spec)
        assert all(s.operator != "==" for s in req.specifier), f"{spec}: pin in the lock instead"
        key = req.name.lower().replace("_", "-")
        assert key in lock, f"{spec}: not in requirements/lock.txt"
        assert req.specifier.contains(lock[key][1]), f"{spec}: lock has {lock[key][1]}"


def test_script_entry_licence_and_citation():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["distilface"] == "distilface.cli:main"
    assert project["authors"] and project["urls"]
    # exactly the MIT text (GitHub's licence detection reports none for an added paragraph);
    # the note on the data's own licences lives in NOTICE
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("MIT License\n") and licence.endswith(
        "OTHER DEALINGS IN THE\nSOFTWARE.\n"
    )
    assert project["license"] == "MIT" and set(project["license-files"]) == {"LICENSE", "NOTICE"}
    assert "CC BY-NC-SA 3.0" in (REPO / "NOTICE").read_text()
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    urls = {ref["url"] for ref in cff["references"]}
    assert {"https://arxiv.org/abs/2401.12472", "https://arxiv.org/abs/2112.05638"} <= urls
    readme = (REPO / "README.md").read_text()
    assert "CC BY-NC-SA" in readme and "docs/citing.md" in readme and "docs/data.md" in readme
    assert "**CC BY-NC-SA 3.0**" in (REPO / "docs" / "data.md").read_text()
    assert "@misc{lim2024distilface" in (REPO / "docs" / "citing.md").read_text()
