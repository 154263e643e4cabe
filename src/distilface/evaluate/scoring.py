"""SimCSE-exact STS scoring, pure functions: cosine similarity, Spearman/Pearson x 100, SentEval
aggregation (the end-to-end evaluation that reads, encodes and writes: :mod:`.sts`).

What is reproduced, and from where (SimCSE's fork of SentEval, ``senteval/sts.py``, and SimCSE's
``evaluation.py``, ``--mode test --task_set sts``):

- Sentences are SentEval's whitespace tokens joined by one space
  (:func:`distilface.data.readers.senteval_text`), which is what SimCSE's batcher feeds the
  tokenizer.
- System score of a pair = ``nan_to_num(cosine(nan_to_num(u), nan_to_num(v)))`` with
  ``cosine(u, v) = u.v / (|u| |v|)``, here in float64. Embeddings are not normalised first.
- STS12-16: per subset ``scipy.stats.spearmanr`` / ``pearsonr`` of system vs gold;
  ``"all"`` = one correlation over the concatenation of the year's subsets (the number SimCSE
  reports); ``"wmean"`` = mean of the per-subset correlations weighted by subset size.
- STS-B and SICK-R: SimCSE scores them unsupervised (``STSBenchmarkEval`` /
  ``SICKRelatednessEval`` are ``STSEval`` over train/dev/test) and reports the test split, one
  correlation; here ``"all"`` = ``"wmean"`` = that test score, and the per-genre /
  per-entailment-label correlations are kept for information only.
- ``avg`` = mean over the seven tasks of the chosen aggregation (SimCSE: ``"all"``).

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

AGGREGATIONS: tuple[str, ...] = ("all", "wmean")
#: Tasks whose subsets are SentEval datasets (their "wmean" averages per-subset scores).
YEAR_TASKS: tuple[str, ...] = ("STS12", "STS13", "STS14", "STS15", "STS16")


# ---------------------------------------------------------------------------------------------
# scoring (pure)


def cosine_scores(e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Row-wise cosine in float64, with SentEval's ``nan_to_num`` on inputs and output."""
    a = np.nan_to_num(np.asarray(e1, dtype=np.float64))
    b = np.nan_to_num(np.asarray(e2, dtype=np.float64))
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"embeddings must be two equal 2-d arrays, got {a.shape} and {b.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.nan_to_num(cos)


def correlations(system: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """(Spearman, Pearson) x 100 of system vs gold scores; NaN when undefined (n < 2, constant)."""
    if len(system) < 2:
        return math.nan, math.nan
    return (
        100.0 * float(spearmanr(system, gold).statistic),
        100.0 * float(pearsonr(system, gold).statistic),
    )


def score_similarities(
    cos: np.ndarray, gold: np.ndarray, subsets: Sequence[str], subsets_are_datasets: bool = True
) -> dict[str, Any]:
    """Task scores from per-pair similarities (see the module doc for the exact definitions).

    ``subsets_are_datasets=True`` (STS12-16): ``wmean`` = size-weighted mean of per-subset
    correlations. ``False`` (STS-B, SICK-R): ``wmean`` = ``all`` (one test set; subsets are a
    breakdown only).
    """
    cos = np.asarray(cos, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if not (len(cos) == len(gold) == len(subsets)):
        raise ValueError(
            f"ragged input: {len(cos)} similarities, {len(gold)} gold, {len(subsets)} subsets"
        )
    labels = np.asarray(subsets, dtype=str)
    per: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(subsets):
        mask = labels == name
        spear, pear = correlations(cos[mask], gold[mask])
        per[name] = {"n": int(mask.sum()), "spearman": spear, "pearson": pear}
    spear_all, pear_all = correlations(cos, gold)
    if subsets_are_datasets:
        weights = np.array([s["n"] for s in per.values()], dtype=np.float64)
        spear_w = float(np.average([s["spearman"] for s in per.values()], weights=weights))
        pear_w = float(np.average([s["pearson"] for s in per.values()], weights=weights))
    else:
        spear_w, pear_w = spear_all, pear_all
    return {
        "n": len(cos),
        "spearman": {"all": spear_all, "wmean": spear_w},
        "pearson": {"all": pear_all, "wmean": pear_w},
        "subsets": per,
    }


def score_pairs(
    e1: np.ndarray,
    e2: np.ndarray,
    gold: np.ndarray,
    subsets: Sequence[str],
    subsets_are_datasets: bool = True,
) -> dict[str, Any]:
    """Scores of one task from its pair embeddings: :func:`cosine_scores` then
    :func:`score_similarities`."""
    return score_similarities(cosine_scores(e1, e2), gold, subsets, subsets_are_datasets)


def average(tasks: dict[str, dict[str, Any]], aggregation: str = "all") -> dict[str, float]:
    """Mean over the tasks of ``spearman[aggregation]`` and ``pearson[aggregation]``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {aggregation!r}")
    return {
        m: float(np.mean([t[m][aggregation] for t in tasks.values()]))
        for m in ("spearman", "pearson")
    }


class ScoreError(ValueError):
    """A score came out NaN / inf: refused instead of being written as ``null``."""


def check_finite(result: dict[str, Any], avg: dict[str, float], what: str) -> None:
    """Raise :class:`ScoreError` naming every task whose correlation is not finite.

    A correlation is undefined when the system scores (or the gold scores) are constant, e.g.
    a collapsed model whose embeddings are all equal or NaN, or a set with fewer than 2 pairs.
    """
    bad = [
        f"{task} {metric}[{agg}] (n={block['n']})"
        for task, block in result["tasks"].items()
        for metric in ("spearman", "pearson")
        for agg, value in block[metric].items()
        if not math.isfinite(value)
    ]
    bad += [  # STS-B genres / SICK labels: information only, but never a silent null
        f"{task} subset {str(name)!r} spearman (n={sub['n']})"
        for task, block in result["tasks"].items()
        for name, sub in (block.get("subsets") or {}).items()
        if not math.isfinite(sub["spearman"])
    ]
    if "stsb_dev" in result and not math.isfinite(result["stsb_dev"]["spearman"]):
        bad.append(f"stsb_dev spearman (n={result['stsb_dev']['n']})")
    bad += [f"avg {m}" for m, v in avg.items() if not math.isfinite(v)]
    if bad:
        raise ScoreError(
            f"{what}: non-finite score(s) {bad}; the similarities or the gold scores are constant "
            "(a collapsed or NaN model, or a broken test file); nothing was written"
        )


def require_finite_embeddings(emb: np.ndarray, sentences: Sequence[str], what: str) -> None:
    """Raise :class:`ScoreError` when any embedding has a NaN / inf: SimCSE's evaluator zeroes
    them (``nan_to_num``) and scores the rest, which hides damaged weights or a diverged
    model behind a plausible number."""
    bad = np.flatnonzero(~np.isfinite(emb).all(axis=1))
    if len(bad):
        raise ScoreError(
            f"{what}: {len(bad)} of {len(emb)} sentence embeddings contain NaN or inf (first: "
            f"{sentences[int(bad[0])]!r}); the weights are damaged or the model diverged. "
            "Refusing to score them as zeros"
        )
