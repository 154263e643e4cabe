"""EmbeddingCache round trips, and cache hits that skip the forward pass."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from test_encoders import SENTENCES, build_tiny_model

from distilface.evaluate.cache import EmbeddingCache, dataset_id
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.sts import embed_unique


def test_put_get_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    key = ("fp", "avg", dataset_id(["a", "b"]), 512, "float32")
    assert cache.get(key) is None
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = cache.put(key, arr)
    got = cache.get(key)
    assert got is not None and got.dtype == np.float32
    np.testing.assert_array_equal(got, arr)
    assert path.parent == tmp_path / "c"
    assert [p.name for p in (tmp_path / "c").iterdir()] == [path.name]  # no temp file left


def test_keys_are_distinct(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    base = ("fp", "avg", "data", 512, "float32")
    variants = [
        ("fp2", "avg", "data", 512, "float32"),
        ("fp", "avg_top2", "data", 512, "float32"),
        ("fp", "avg", "data2", 512, "float32"),
        ("fp", "avg", "data", 128, "float32"),
        ("fp", "avg", "data", "512", "float32"),
        ("fp", "avg", "data", 512, "bfloat16"),
    ]
    assert len({cache.path(k) for k in [base, *variants]}) == 1 + len(variants)
    assert dataset_id(["a", "b"]) != dataset_id(["b", "a"])  # row order is part of the id


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    key = ("fp", "avg", "data", 512, "float32")
    cache.path(key).write_bytes(b"not an npy file")
    assert cache.get(key) is None


@pytest.fixture()
def counted_encoder(tmp_path: Path) -> tuple[Encoder, list[int]]:
    """Tiny BERT whose forward passes are counted (rows per call)."""
    enc = Encoder.load(build_tiny_model(tmp_path / "m"), device="cpu")
    calls: list[int] = []
    original = enc.model.forward

    @functools.wraps(original)
    def counting_forward(*args: object, **kwargs: torch.Tensor) -> object:
        calls.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    enc.model.forward = counting_forward  # type: ignore[method-assign]
    return enc, calls


def test_cache_hit_skips_forward(
    tmp_path: Path, counted_encoder: tuple[Encoder, list[int]]
) -> None:
    enc, calls = counted_encoder
    unique = list(dict.fromkeys(SENTENCES))
    cache = EmbeddingCache(tmp_path / "cache")
    first, info1 = embed_unique(enc, unique, ["avg", "avg_top2"], cache, "fp", progress=False)
    assert sum(calls) == len(unique) and info1["encoded"] == ["avg", "avg_top2"]

    calls.clear()
    second, info2 = embed_unique(enc, unique, ["avg", "avg_top2"], cache, "fp", progress=False)
    assert calls == [] and info2["from_cache"] == ["avg", "avg_top2"]
    assert info2["encode_seconds"] == 0.0
    for p in first:
        np.testing.assert_array_equal(first[p], second[p])

    # a new pooling encodes only itself; the cached one is reused
    third, info3 = embed_unique(
        enc, unique, ["avg", "cls_before_pooler"], cache, "fp", progress=False
    )
    assert sum(calls) == len(unique)
    assert info3["encoded"] == ["cls_before_pooler"] and info3["from_cache"] == ["avg"]
    np.testing.assert_array_equal(third["avg"], first["avg"])

    # a different max_length or model fingerprint is a miss
    calls.clear()
    embed_unique(enc, unique, ["avg"], cache, "fp", max_length=4, progress=False)
    embed_unique(enc, unique, ["avg"], cache, "other-model", progress=False)
    assert sum(calls) == 2 * len(unique)


def test_failed_put_leaves_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    key = ("fp", "avg", "data", 512, "float32")
    with pytest.raises(ValueError):
        cache.put(key, np.array([object()]))  # object arrays are refused (no pickles)
    assert list(tmp_path.iterdir()) == []
    assert cache.get(key) is None
