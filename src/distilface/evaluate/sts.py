"""SimCSE-exact STS evaluation, end to end (read, encode once, score, write); the pure scoring
functions live in :mod:`.scoring`.

What is reproduced from SimCSE's evaluation, and from where: :mod:`.scoring` (the pure
functions every path here calls). A pair's sentences are SentEval's whitespace tokens joined by
one space (:func:`distilface.data.readers.senteval_text`), as SimCSE's batcher feeds them.

Speed: the test sets are read once per job; the sentences of all seven test sets plus STS-B
dev are deduplicated and encoded once, one forward pass serving every requested pooling
(:meth:`Encoder.encode_multi`), with an optional
:class:`~distilface.evaluate.cache.EmbeddingCache` so
re-runs re-encode nothing; each pair's rows are looked up once and shared by every pooling.
The time of each phase (data, model load, encode, scoring) is in the JSON's
``meta.phase_seconds``.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distilface.core.io import require_writable_dir, write_bytes_atomic, write_json_atomic
from distilface.core.logs import log_event
from distilface.core.names import EVAL_POOLINGS, STS_TASKS
from distilface.core.provenance import git_commit, package_versions
from distilface.core.types import StsPairs
from distilface.data.models import model_fingerprint
from distilface.data.readers import load_task, senteval_text
from distilface.evaluate.cache import EmbeddingCache, dataset_id
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.scoring import (
    AGGREGATIONS,
    YEAR_TASKS,
    average,
    check_finite,
    correlations,
    require_finite_embeddings,
    score_similarities,
)

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# embedding (with cache)


def embed_unique(
    encoder: Encoder,
    sentences: Sequence[str],
    poolings: Sequence[str],
    cache: EmbeddingCache | None = None,
    fingerprint: str | None = None,
    batch_size: int = 128,
    max_length: int = 512,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Embeddings of ``sentences`` (rows in order) for each pooling, re-using the cache.

    Poolings missing from the cache are computed together in one :meth:`Encoder.encode_multi`
    pass and stored. Returns the arrays and ``{"encode_seconds", "from_cache", "encoded"}``.
    """
    if cache is not None and fingerprint is None:
        raise ValueError("a cache needs the model fingerprint for its keys")
    limit = encoder.effective_max_length(max_length)
    data_id = dataset_id(sentences)
    expected = (len(sentences), encoder.embedding_dim)

    versions = package_versions(("torch", "transformers"))
    # what the vectors depend on beyond the weights: also the device kind and the library
    # versions, since a named encoder's entries live across runs (workflow/rules/evaluate.smk)
    stamp = (encoder.compute_dtype, encoder.device.type, *(f"{k}={v}" for k, v in versions.items()))

    def key(pooling: str) -> tuple[str | int, ...]:
        return (str(fingerprint), pooling, data_id, limit, *stamp)

    found = _cached(cache, key, poolings, expected) if cache is not None else {}
    missing = [p for p in poolings if p not in found]
    seconds = 0.0
    if missing:
        start = time.perf_counter()
        fresh = encoder.encode_multi(sentences, missing, batch_size, max_length, progress)
        seconds = time.perf_counter() - start
        for p in missing:  # before the cache keeps them: SentEval would zero them and score
            require_finite_embeddings(fresh[p], sentences, f"{encoder.source} ({p})")
        for p in missing:
            if cache is not None:
                cache.put(key(p), fresh[p])
        found.update(fresh)
    info = {
        "encode_seconds": seconds,
        "from_cache": sorted(set(poolings) - set(missing)),
        "encoded": missing,
    }
    log_event(
        logger,
        "embeddings ready",
        sentences=len(sentences),
        **info,
        sentences_per_s=(len(sentences) / seconds if seconds else None),
    )
    return {p: found[p] for p in poolings}, info


def _cached(
    cache: EmbeddingCache,
    key: Callable[[str], tuple[str | int, ...]],
    poolings: Sequence[str],
    expected: tuple[int, int],
) -> dict[str, np.ndarray]:
    """The poolings whose cached array has the expected shape and dtype (others are logged and
    re-encoded)."""
    found: dict[str, np.ndarray] = {}
    for p in poolings:
        arr = cache.get(key(p))
        if arr is not None and arr.shape == expected and arr.dtype == np.float32:
            found[p] = arr
        elif arr is not None:
            log_event(
                logger,
                "cache entry has wrong shape, re-encoding",
                pooling=p,
                shape=list(arr.shape),
                dtype=str(arr.dtype),
                expected=list(expected),
            )
    return found


# ---------------------------------------------------------------------------------------------
# end to end


@dataclass(frozen=True)
class EvalSettings:
    """How :func:`evaluate_model` runs (none of these changes which sentences are scored).

    ``aggregation``: ``all`` (SimCSE) or ``wmean`` for the ``avg``; ``batch_size``,
    ``max_length``: of the encoder; ``cache_dir``: an :class:`EmbeddingCache` folder or ``None``;
    ``device``: ``None`` = CUDA when available; ``precision``: see :class:`Encoder`.
    """

    aggregation: str = "all"
    batch_size: int = 128
    max_length: int = 512
    cache_dir: str | Path | None = None
    device: str | None = None
    progress: bool = True
    precision: str = "auto"

    @classmethod
    def from_config(
        cls, evaluation: dict, cache_dir: str | Path | None = None, progress: bool = True
    ) -> EvalSettings:
        """The settings of a config's ``evaluation:`` section (schema defaults filled): the one
        mapping the ``evaluate`` rule, ``evaluate_int8`` and ``reproduce`` share. ``device:
        auto`` = None (CUDA when available); an empty ``cache_dir`` = no cache."""
        device = evaluation.get("device", "auto")
        return cls(
            aggregation=evaluation.get("aggregation", "all"),
            batch_size=evaluation.get("batch_size", 128),
            max_length=evaluation.get("max_length", 512),
            cache_dir=cache_dir or None,
            device=None if device == "auto" else device,
            progress=progress,
            precision=evaluation.get("precision", "auto"),
        )


@dataclass(frozen=True)
class StsData:
    """The seven test sets and STS-B dev, normalised, with each pair's rows in ``unique``
    (the distinct sentences, first-seen order): read once per job, shared by every pooling."""

    sets: dict[str, StsPairs]
    unique: list[str]
    index: dict[str, tuple[np.ndarray, np.ndarray]]
    gold: dict[str, np.ndarray]  # float64
    subsets: dict[str, np.ndarray]  # str

    @property
    def tasks(self) -> list[str]:
        """The test sets held (every key but ``stsb_dev``), in reading order."""
        return [name for name in self.sets if name != "stsb_dev"]


def load_sts_data(
    senteval_root: str | Path, tasks: Sequence[str] = STS_TASKS, dev: bool = True
) -> StsData:
    """Read and normalise the test sets of ``tasks`` (default: the seven) and, with ``dev``,
    STS-B dev; index every pair into ``unique``. The one reader of every scoring path: the
    ``evaluate`` rule, the CLI, the int8 experiment and the benchmarks."""
    sets = {t: load_task(t, senteval_root, "test") for t in tasks}
    if dev:
        sets["stsb_dev"] = load_task("STSBenchmark", senteval_root, "dev")
    sets = {name: _normalised(pairs, senteval_text) for name, pairs in sets.items()}
    unique = list(dict.fromkeys(s for pairs in sets.values() for s in pairs.sent1 + pairs.sent2))
    row = {s: i for i, s in enumerate(unique)}
    index = {
        name: (
            np.fromiter((row[s] for s in pairs.sent1), np.int64, len(pairs)),
            np.fromiter((row[s] for s in pairs.sent2), np.int64, len(pairs)),
        )
        for name, pairs in sets.items()
    }
    gold = {name: np.asarray(pairs.gold, dtype=np.float64) for name, pairs in sets.items()}
    subsets = {name: np.asarray(pairs.subsets, dtype=str) for name, pairs in sets.items()}
    return StsData(sets, unique, index, gold, subsets)


def evaluate_model(
    model_id: str,
    encoder_path: str | Path,
    poolings: Sequence[str],
    senteval_root: str | Path,
    out_dir: str | Path,
    settings: EvalSettings | None = None,
    tasks: Sequence[str] = STS_TASKS,
    **options: Any,
) -> dict[str, Path]:
    """Evaluate one encoder on the 7 STS tasks (+ STS-B dev) for each pooling.

    ``tasks`` (the CLI's ``--tasks`` / ``--dev``; the workflow scores all seven): fewer test
    sets, ``avg`` over them (``avg_tasks``); none = STS-B dev only (SimCSE's ``--mode dev``).

    ``settings`` or its fields as keywords (``batch_size=64``, ...; :class:`EvalSettings`).
    Writes ``out_dir/{pooling}.json`` (format in DESIGN.md) and ``out_dir/{pooling}.scores.npz``
    (``{task}__cos``, ``{task}__gold``, ``{task}__subset``) per usable pooling; a pooling the
    model cannot serve (e.g. ``cls`` without a trained pooler) gets a JSON with ``"skipped"``
    and an npz holding only ``skipped`` (the reason), so every declared output exists and no
    score can be read from it. Returns ``{pooling: json path}``.
    """
    if settings is not None and options:
        raise TypeError(f"pass settings or keyword options, not both ({sorted(options)})")
    cfg = settings or EvalSettings(**options)
    poolings = _checked_request(poolings, cfg.aggregation)
    require_writable_dir(out_dir, "output folder")  # before the encode, not after it
    if cfg.cache_dir is not None:
        require_writable_dir(cfg.cache_dir, "embedding cache")
    if unknown := [t for t in tasks if t not in STS_TASKS]:
        raise ValueError(f"unknown STS task(s) {unknown}; choose from {', '.join(STS_TASKS)}")
    clock = _PhaseClock()
    data = load_sts_data(senteval_root, tuple(t for t in STS_TASKS if t in tasks))
    clock.lap("load_data")
    log_event(
        logger,
        "sts sets loaded",
        model=model_id,
        senteval_root=str(senteval_root),
        pairs={k: len(v) for k, v in data.sets.items()},
        unique_sentences=len(data.unique),
    )
    encoder = Encoder.load(encoder_path, device=cfg.device, precision=cfg.precision)
    clock.lap("load_model")
    available = encoder.available_poolings()
    usable = [p for p in poolings if available[p] is None]
    embeddings, info, fingerprint = _embed_usable(encoder, data.unique, usable, cfg)
    clock.lap("encode")
    meta = _meta(encoder, info, len(data.unique), cfg, senteval_root, fingerprint)
    meta["phase_seconds"] = clock.laps  # the same dict: "score" is in it before any write
    head = {"model": model_id, "encoder": str(encoder_path), "aggregation": cfg.aggregation}
    # Score every pooling first, write afterwards: a refused score leaves no file behind.
    outputs = {
        p: _score_pooling(data, embeddings.get(p), available[p], head, p, meta, clock)
        for p in poolings
    }
    clock.lap("score")
    return _write_outputs(Path(out_dir), outputs)


def _score_pooling(
    data: StsData,
    emb: np.ndarray | None,
    skip_reason: str | None,
    head: dict[str, Any],
    pooling: str,
    meta: dict[str, Any],
    clock: _PhaseClock,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON object and npz arrays of one pooling (or of its skip, with the reason)."""
    obj = {"model": head["model"], "encoder": head["encoder"], "pooling": pooling}
    obj["aggregation"] = head["aggregation"]
    what = f"{head['model']} ({head['encoder']}), pooling {pooling}"
    if skip_reason is not None or emb is None:
        log_event(
            logger, "pooling skipped", model=head["model"], pooling=pooling, reason=skip_reason
        )
        return {**obj, "skipped": skip_reason, "meta": meta}, {"skipped": np.array(skip_reason)}
    result, arrays = score_embeddings(data, emb)
    avg = average(result["tasks"], head["aggregation"]) if result["tasks"] else {}
    check_finite(result, avg, what)
    if 0 < len(result["tasks"]) < len(STS_TASKS):  # a subset's mean says which sets it is
        result["avg_tasks"] = list(result["tasks"])
    log_event(
        logger,
        "pooling scored",
        model=head["model"],
        pooling=pooling,
        avg=avg,
        stsb_dev=result["stsb_dev"]["spearman"],
    )
    meta_p = {**meta, "eval_seconds": clock.total()}
    return {**obj, **result, **({"avg": avg} if avg else {}), "meta": meta_p}, arrays


def _checked_request(poolings: Sequence[str], aggregation: str) -> list[str]:
    """The distinct requested poolings; an unknown pooling or aggregation is an error."""
    out = list(dict.fromkeys(poolings))
    for p in out:
        if p not in EVAL_POOLINGS:
            raise ValueError(f"unknown pooling {p!r}; choose from {', '.join(EVAL_POOLINGS)}")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")
    return out


def _embed_usable(
    encoder: Encoder, unique: list[str], usable: list[str], cfg: EvalSettings
) -> tuple[dict[str, np.ndarray], dict[str, Any], str | None]:
    """Embeddings of ``unique`` for the usable poolings (one pass, through the cache when
    ``cfg.cache_dir`` is set), the :func:`embed_unique` info, and the model fingerprint."""
    if not usable:
        return {}, {"encode_seconds": 0.0, "from_cache": [], "encoded": []}, None
    cache = EmbeddingCache(cfg.cache_dir) if cfg.cache_dir is not None else None
    fingerprint = model_fingerprint(encoder.model_dir) if cache is not None else None
    embeddings, info = embed_unique(
        encoder, unique, usable, cache, fingerprint, cfg.batch_size, cfg.max_length, cfg.progress
    )
    return embeddings, info, fingerprint


def _write_outputs(
    out: Path, outputs: dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]
) -> dict[str, Path]:
    """Write each pooling's npz then JSON (atomically); ``{pooling: json path}``."""
    written: dict[str, Path] = {}
    for p, (obj, arrays) in outputs.items():
        _write_npz(out / f"{p}.scores.npz", arrays)
        write_json_atomic(out / f"{p}.json", obj)
        written[p] = out / f"{p}.json"
    return written


class _PhaseClock:
    """Seconds spent per phase of one evaluation (``laps``) and since it started."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

    def total(self) -> float:
        return time.perf_counter() - self.started


def _normalised(pairs: StsPairs, normalise: Any) -> StsPairs:
    """``pairs`` with every sentence passed through ``normalise`` (SentEval's split/join)."""
    return StsPairs(
        pairs.task,
        [normalise(s) for s in pairs.sent1],
        [normalise(s) for s in pairs.sent2],
        pairs.gold,
        pairs.subsets,
        pairs.source_files,
    )


def score_embeddings(
    data: StsData, emb: np.ndarray
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Per-task scores (JSON part) and per-pair arrays (npz part) for one pooling.

    The float64 cast, ``nan_to_num`` and row norms of :func:`cosine_scores` are done once for
    all distinct sentences (element- and row-wise, so each pair's cosine is the same number as
    :func:`cosine_scores` of the pair's two rows), then every task gathers its pairs.
    """
    rows, norms = _rows_and_norms(emb)
    tasks: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for task in data.tasks:
        cos = _pair_cosines(rows, norms, *data.index[task])
        gold, subsets = data.gold[task], data.subsets[task]
        scores = score_similarities(cos, gold, subsets, task in YEAR_TASKS)
        if task not in YEAR_TASKS:
            scores = {
                "n": scores["n"],
                "split": "test",
                **{k: v for k, v in scores.items() if k != "n"},
            }
        tasks[task] = scores
        arrays[f"{task}__cos"] = cos
        arrays[f"{task}__gold"] = gold
        arrays[f"{task}__subset"] = subsets
    if "stsb_dev" not in data.sets:
        return {"tasks": tasks}, arrays
    dev_cos = _pair_cosines(rows, norms, *data.index["stsb_dev"])
    dev_spearman, _ = correlations(dev_cos, data.gold["stsb_dev"])
    dev = {"n": len(data.sets["stsb_dev"]), "spearman": dev_spearman}
    return {"tasks": tasks, "stsb_dev": dev}, arrays


def _rows_and_norms(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``nan_to_num(float64(emb))`` and its row norms (the per-row part of cosine_scores)."""
    rows = np.asarray(emb, dtype=np.float64)
    if not np.isfinite(rows).all():  # nan_to_num is the identity on finite values: skip it then
        rows = np.nan_to_num(rows)
    return rows, np.linalg.norm(rows, axis=1)


def _pair_cosines(
    rows: np.ndarray, norms: np.ndarray, idx1: np.ndarray, idx2: np.ndarray
) -> np.ndarray:
    """:func:`cosine_scores` of the pairs ``(rows[idx1], rows[idx2])`` from precomputed norms."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dots = np.einsum("ij,ij->i", rows[idx1], rows[idx2])
        cos = dots / (norms[idx1] * norms[idx2])
    return np.nan_to_num(cos)


def _meta(
    encoder: Encoder,
    info: dict[str, Any],
    n_unique: int,
    cfg: EvalSettings,
    senteval_root: str | Path,
    fingerprint: str | None,
) -> dict[str, Any]:
    """The ``meta`` block: model size, device, timing, provenance."""
    return {
        "params": encoder.n_params,
        "embedding_dim": encoder.embedding_dim,
        "device": str(encoder.device),
        "dtype": encoder.compute_dtype,
        "encode_seconds": info["encode_seconds"],
        "sentences_encoded": n_unique,
        "from_cache": info["from_cache"],
        "batch_size": cfg.batch_size,
        "max_length": encoder.effective_max_length(cfg.max_length),
        "model_dir": encoder.model_dir,
        "model_fingerprint": fingerprint,
        "senteval_root": str(senteval_root),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }


# ---------------------------------------------------------------------------------------------
# scoring an already-loaded encoder (task subsets, a quantised model), through the same pieces


def score_encoder(
    encoder: Any,
    data: StsData | str | Path,
    tasks: Sequence[str] = STS_TASKS,
    pooling: str = "avg",
    batch_size: int = 128,
    max_length: int = 512,
    progress: bool = False,
    aggregation: str = "all",
) -> dict[str, Any]:
    """Spearman x 100 (``aggregation``: ``all`` or ``wmean``) of ``encoder`` on the test sets
    of ``data`` (a :class:`StsData`, or a SentEval root read with ``tasks``): the same one
    encode of the distinct sentences and the same scoring as :func:`evaluate_model`; no files
    are written. Returns ``{"tasks": {task: spearman}, "avg_spearman", "n_unique",
    "n_pair_sentences", "encode_s"}``."""
    if not isinstance(data, StsData):
        data = load_sts_data(data, tasks, dev=False)
    start = time.perf_counter()
    emb = encoder.encode(data.unique, pooling, batch_size, max_length, progress=progress)
    encode_s = time.perf_counter() - start
    result, _ = score_embeddings(data, emb)
    scores = {t: result["tasks"][t]["spearman"][aggregation] for t in data.tasks}
    return {
        "tasks": scores,
        "avg_spearman": float(np.mean(list(scores.values()))),
        "n_unique": len(data.unique),
        "n_pair_sentences": sum(2 * len(data.sets[t]) for t in data.tasks),
        "encode_s": encode_s,
    }


# ---------------------------------------------------------------------------------------------
# atomic writers


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
