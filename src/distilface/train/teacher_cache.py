"""Teacher sentence embeddings of a training corpus, computed once and reused by every run.

DisCo's stage 1 regresses (KD) or contrasts (CKD) student embeddings against a fixed teacher's
embeddings of the same sentences. The teacher is run once per
(teacher fingerprint, corpus sha256, pooling, max_length) through the evaluator's encoder with
one of SimCSE's poolings, and the **raw pooled vector** is stored: before any ``Normalize``
module of a sentence-transformers pipeline (the bundled all-mpnet-base-v2 is mean pooling +
Normalize; its cache holds the mean-pooled vector, norm ~2.8, not the unit vector). That is
what DistilCSE regresses on: ``nn.MSELoss()(student, teacher pooler_output)`` with nothing
normalised (``kd_distillation.py`` l. 188, l. 197); CKD normalises both sides itself
(``ckd_contrastive.py`` l. 95-96). For the authors' teacher, princeton-nlp/sup-simcse-roberta-large,
the pooling is ``cls`` (its ``pooler_output``, l. 74). The result is stored as

- ``<name>.npy``: float32 array (n_sentences, teacher_dim), row i = line i of the corpus
  (after :func:`distilface.data.readers.read_corpus` drops empty lines and exact repeats; the JSON's
  ``rows`` names that reading, and a cache built under another one is refused);
- ``<name>.json``: the key above plus timing, written after the array, both via temp + rename.

Command line (used by the Snakemake rule ``teacher_cache``)::

    python -m distilface.train.teacher_cache --teacher bundled:all-mpnet-base-v2 \
        --corpus results/data/corpus/wiki1m_for_simcse.txt --out results/teacher_cache/x.npy
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from distilface.core.io import sha256_file, write_json_atomic, write_with_atomic
from distilface.core.logs import log_event, setup_logging
from distilface.data.models import model_fingerprint
from distilface.data.readers import read_corpus
from distilface.evaluate.encoders import Encoder

logger = logging.getLogger(__name__)


def cache_key(
    teacher: str, corpus_path: str | Path, max_length: int | None, pooling: str = "avg"
) -> dict:
    """The identity of a cache entry (without loading the teacher's weights)."""
    return {
        "teacher": teacher,
        "teacher_fingerprint": model_fingerprint(teacher),
        "corpus": str(corpus_path),
        "corpus_sha256": sha256_file(corpus_path),
        "max_length": max_length,
        "pooling": pooling,
    }


#: How cache rows map to corpus lines; a cache recorded with another mapping is stale.
ROWS = "distinct non-empty lines, first-seen order"


def build_teacher_cache(
    teacher: str,
    corpus_path: str | Path,
    out_npy: str | Path,
    max_length: int | None = 128,
    batch_size: int = 128,
    device: str | None = None,
    limit: int | None = None,
    pooling: str = "avg",
) -> Path:
    """Encode the corpus sentences (the first ``limit`` when given) with ``teacher`` and
    ``pooling`` (raw, un-normalised); write ``out_npy`` + ``.json`` atomically. Row i is
    sentence i of :func:`data.read_corpus`."""
    out_npy = Path(out_npy)
    key = cache_key(teacher, corpus_path, max_length, pooling)
    sentences = read_corpus(corpus_path)[:limit]
    encoder = Encoder.load(teacher, device=device, precision="fp32")
    dev, path = str(encoder.device), encoder.model_dir
    t0 = time.perf_counter()
    emb = encoder.encode(sentences, pooling, batch_size, max_length or 512)
    seconds = time.perf_counter() - t0
    if not np.isfinite(emb).all():
        raise FloatingPointError(f"teacher {teacher}: non-finite embeddings for {corpus_path}")
    meta = {
        **key,
        "teacher_path": str(path),
        "vector": f"{pooling} pooling of the teacher, raw (no Normalize)",
        "norm_mean": round(float(np.linalg.norm(emb, axis=1).mean()), 4),
        "limit": limit,
        "rows": ROWS,
        "n": int(emb.shape[0]),
        "dim": int(emb.shape[1]),
        "device": dev,
        "torch_threads": torch.get_num_threads(),
        "encode_seconds": round(seconds, 2),
        "sentences_per_s": round(len(sentences) / seconds, 1),
    }
    write_with_atomic(out_npy, lambda tmp: np.save(tmp, emb))
    write_json_atomic(out_npy.with_suffix(".json"), meta)
    log_event(logger, "teacher cache written", path=str(out_npy), **meta)
    return out_npy


def load_teacher_cache(npy_path: str | Path, corpus_path: str | Path | None = None) -> np.ndarray:
    """Load a cache; given ``corpus_path``, check it is the corpus the cache was built on."""
    npy_path = Path(npy_path)
    meta_path = npy_path.with_suffix(".json")
    if not npy_path.is_file() or not meta_path.is_file():
        raise FileNotFoundError(f"teacher cache {npy_path} (or its {meta_path.name}) is missing")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    emb = np.load(npy_path, mmap_mode="r")
    if meta.get("rows") != ROWS:
        raise ValueError(
            f"{meta_path}: rows are {meta.get('rows', 'every non-empty line')!r}, this version "
            f"reads {ROWS!r}; delete {npy_path} and its .json to rebuild it"
        )
    if emb.shape != (meta["n"], meta["dim"]):
        raise ValueError(f"{npy_path}: shape {emb.shape} != meta {(meta['n'], meta['dim'])}")
    if corpus_path is not None:
        actual = sha256_file(corpus_path)
        if actual != meta["corpus_sha256"]:
            raise ValueError(
                f"{npy_path} was built on corpus sha256 {meta['corpus_sha256']} "
                f"({meta['corpus']}), but {corpus_path} has sha256 {actual}"
            )
    return emb


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: build one teacher cache file (see module docstring)."""
    ap = argparse.ArgumentParser(description="Encode a corpus with a teacher, once.")
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N sentences only")
    ap.add_argument("--pooling", default="avg", help="a SimCSE pooling (cls = pooler_output)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    setup_logging()
    build_teacher_cache(
        args.teacher,
        args.corpus,
        args.out,
        args.max_length,
        args.batch_size,
        args.device,
        args.limit,
        args.pooling,
    )


if __name__ == "__main__":
    main()
