"""core.io: one atomic-write helper with the umask's permissions, one sha256; its callers
(a corpus fetched by URL and its MANIFEST.json, the embedding cache, derived data) follow it."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from distilface.core import io as cio
from distilface.data import download as dl
from distilface.data.readers import write_corpus
from distilface.evaluate.cache import EmbeddingCache


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def umask022() -> Iterator[None]:
    """The usual shared-machine umask: new files 0644, folders 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _file_source(url: str, sha: str) -> dict:
    return {
        "url": url,
        "sha256": sha,
        "archive": "none",
        "dest": "corpus/wiki.txt",
        "mirror": {"path": "corpus/wiki.txt", "sha256": sha},
    }


def _hidden(folder: Path) -> list[str]:
    """Temporary names (all hidden) left anywhere under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def test_corpus_fetched_by_url_and_its_manifest_are_world_readable(
    tmp_path: Path, umask022: None
) -> None:
    body = b"first sentence\nsecond sentence\n"
    upstream = tmp_path / "upstream" / "wiki1m_for_simcse.txt"
    upstream.parent.mkdir()
    upstream.write_bytes(body)
    root = tmp_path / "data"
    path = dl.materialize("wiki1m", _file_source(upstream.as_uri(), _sha(body)), root)
    assert path == root / "corpus" / "wiki.txt" and path.read_bytes() == body
    manifest = path.parent / "MANIFEST.json"
    assert manifest.is_file()
    assert (_mode(path), _mode(manifest), _mode(path.parent)) == (0o644, 0o644, 0o755)
    assert _hidden(root) == []


def test_fetch_by_url_is_world_readable_and_a_mismatch_leaves_nothing(
    tmp_path: Path, umask022: None
) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"x" * (3 * cio.CHUNK + 5))  # several chunks
    out = tmp_path / "out" / "a.bin"
    sha = dl.fetch(source.as_uri(), out, _sha(source.read_bytes()), progress=False)
    assert sha == cio.sha256_file(out) == cio.sha256_file(source)
    assert _mode(out) == 0o644
    bad = tmp_path / "out" / "b.bin"
    with pytest.raises(dl.ChecksumError, match="sha256 mismatch"):
        dl.fetch(source.as_uri(), bad, "0" * 64, progress=False)
    assert not bad.exists() and _hidden(tmp_path / "out") == []


def test_writers_follow_the_umask(tmp_path: Path, umask022: None) -> None:
    text = cio.write_text_atomic(tmp_path / "a" / "t.txt", "héllo\n")
    script = cio.write_text_atomic(tmp_path / "run.sh", "#!/bin/sh\n", executable=True)
    data = cio.write_json_atomic(tmp_path / "d.json", {"x": float("nan")})
    npy = cio.write_with_atomic(tmp_path / "e.npy", lambda tmp: np.save(tmp, np.arange(3)))
    with cio.atomic_dir(tmp_path / "folder") as build:
        (build / "f.txt").write_text("f")
    assert (
        text.read_text(encoding="utf-8") == "héllo\n" and data.read_text() == '{\n  "x": null\n}\n'
    )
    assert np.load(npy).tolist() == [0, 1, 2]
    modes = [_mode(p) for p in (text, script, data, npy, tmp_path / "folder")]
    assert modes == [0o644, 0o755, 0o644, 0o644, 0o755]
    os.umask(0o077)  # a private umask gives private files: the umask decides, not the code
    assert _mode(cio.write_text_atomic(tmp_path / "private.txt", "p")) == 0o600
    assert _hidden(tmp_path) == []


def test_package_outputs_are_world_readable(tmp_path: Path, umask022: None) -> None:
    cached = EmbeddingCache(tmp_path / "cache").put(("m", "avg", 1), np.ones((2, 3), "float32"))
    corpus = tmp_path / "corpus.txt"
    write_corpus(["a", "b"], corpus)
    assert (_mode(cached), _mode(corpus)) == (0o644, 0o644)
    assert np.load(cached).shape == (2, 3) and corpus.read_text() == "a\nb\n"


def test_saved_models_are_readable_by_colleagues(tmp_path: Path, umask022: None) -> None:
    """``safetensors.save_file`` writes 0600 (mkstemp); a student, a trained model and an int8
    export are folders built by ``atomic_dir``, which gives every file the umask's mode."""
    import torch
    from safetensors.torch import save_file

    with cio.atomic_dir(tmp_path / "model") as build:
        save_file({"w": torch.zeros(2)}, str(build / "model.safetensors"))
        (build / "sub").mkdir()
        save_file({"w": torch.zeros(2)}, str(build / "sub" / "model.safetensors"))
    assert _mode(tmp_path / "model" / "model.safetensors") == 0o644
    assert _mode(tmp_path / "model" / "sub" / "model.safetensors") == 0o644
    assert _mode(tmp_path / "model" / "sub") == 0o755
    from distilface.train.student import student_from_teacher_layers

    out = student_from_teacher_layers("bundled:all-MiniLM-L6-v2", (0,), tmp_path / "student")
    assert {_mode(p) for p in out.iterdir()} == {0o644}


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cio.write_with_atomic(target, broken)
    assert not target.exists() and _hidden(tmp_path) == []
    previous = cio.write_text_atomic(tmp_path / "keep" / "old.txt", "old")
    with pytest.raises(RuntimeError, match="boom"), cio.atomic_dir(tmp_path / "keep") as build:
        (build / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert previous.read_text() == "old" and not (tmp_path / "keep" / "new.txt").exists()
    assert _hidden(tmp_path) == []


def test_atomic_dir_replaces_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "stale.bin").write_bytes(b"old")
    with cio.atomic_dir(tmp_path / "m") as build:
        (build / "fresh.bin").write_bytes(b"new")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["fresh.bin"]
    assert _hidden(tmp_path) == []


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # > 2 chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert cio.sha256_file(path) == _sha(data)
