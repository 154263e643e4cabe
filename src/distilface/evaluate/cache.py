"""On-disk cache of sentence embeddings, one ``.npy`` file per key.

A key is a tuple such as ``(model fingerprint, pooling, dataset id, max_length, dtype)``; it is
hashed into the file name, so anything that changes the embeddings must be part of it. Files
are written to a temporary name and renamed, so a reader never sees half an array.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distilface.core.io import write_with_atomic
from distilface.core.logs import log_event

logger = logging.getLogger(__name__)

CacheKey = tuple[str | int, ...]


def key_digest(key: CacheKey) -> str:
    """Stable hex digest of a key (its JSON form, so ``1`` and ``"1"`` differ)."""
    return hashlib.sha256(json.dumps(list(key)).encode("utf-8")).hexdigest()[:40]


def dataset_id(sentences: Sequence[str]) -> str:
    """Content id of an ordered sentence list: row ``i`` of a cached array is ``sentences[i]``."""
    return hashlib.sha256(json.dumps(list(sentences)).encode("utf-8")).hexdigest()


class EmbeddingCache:
    """``get``/``put`` float arrays under ``root``, keyed by a tuple of strings and ints."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: CacheKey) -> Path:
        """File that holds (or will hold) the array for ``key``."""
        return self.root / f"{key_digest(key)}.npy"

    def get(self, key: CacheKey) -> np.ndarray | None:
        """The cached array, or ``None`` when absent or unreadable (then it is re-computed)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            log_event(logger, "cache entry unreadable, ignored", path=str(path), error=str(err))
            return None

    def put(self, key: CacheKey, array: np.ndarray) -> Path:
        """Store ``array`` for ``key`` atomically (temp file in the same folder, then rename)."""
        array = np.ascontiguousarray(array)
        return write_with_atomic(
            self.path(key), lambda tmp: np.save(tmp, array, allow_pickle=False)
        )
