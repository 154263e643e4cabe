"""Shared pytest fixtures: the read-only real data, and no model-hub access."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# The repository's scripts outside the package: the benchmark harness and the env renderer.
for _folder in ("benchmarks", "tools"):
    if str(REPO_ROOT / _folder) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / _folder))


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with the Hugging Face hub switched off."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<repo>/../shared/data`` (real STS/SICK/wiki1m, read-only); skip when absent, but fail
    under CI (``CI`` set), where a missing folder must not pass silently."""
    if not (SHARED_DATA / "senteval").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the real data is missing at {SHARED_DATA}")
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sources_config() -> dict:
    """The parsed ``config/sources.yaml`` (top-level key ``sources``)."""
    import yaml

    return yaml.safe_load((REPO_ROOT / "config" / "sources.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tiny_bert_factory(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_bert_factory(hidden)``: :func:`tinydata.tiny_bert` without a pooler (seed 0,
    128 positions), the real bert-base-uncased tokenizer; one folder per size per session."""
    from tinydata import tiny_bert

    made: dict[int, Path] = {}

    def make(hidden: int) -> Path:
        if hidden not in made:
            out = tmp_path_factory.mktemp(f"tiny-bert-{hidden}")
            made[hidden] = tiny_bert(out, hidden, pooler=False, max_positions=128)
        return made[hidden]

    return make
