"""Bootstrap statistics over the per-pair scores (``{pooling}.scores.npz``).

Replicates resample the sentence pairs *within each task* (within each subset for the
``wmean`` aggregation), recompute each task's Spearman x100 and the 7-task average.
Several runs (seeds) evaluated on the same pairs share the resampled indices, so the
interval is that of their seed-mean average; a paired test shares them between models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from distilface.core.names import STS_TASKS
from distilface.report.tidy import ResultsError


@dataclass(frozen=True)
class TaskPairs:
    """Per-pair cosine scores, gold scores and subset names of one task."""

    cos: np.ndarray
    gold: np.ndarray
    subset: np.ndarray


def scores_path(eval_json: str | Path) -> Path:
    """``results/eval/{model}/{pooling}.json`` -> ``.../{pooling}.scores.npz``."""
    eval_json = Path(eval_json)
    return eval_json.with_name(f"{eval_json.stem}.scores.npz")


def load_pair_scores(eval_json: str | Path, tasks=STS_TASKS) -> dict[str, TaskPairs]:
    """Read the per-pair arrays that belong to an eval JSON; errors name the file + array."""
    path = scores_path(eval_json)
    if not path.is_file():
        raise ResultsError(f"{path}: per-pair scores missing (needed for the bootstrap)")
    out = {}
    with np.load(path, allow_pickle=False) as npz:
        for task in tasks:
            arrays = {}
            for kind in ("cos", "gold", "subset"):
                key = f"{task}__{kind}"
                if key not in npz.files:
                    raise ResultsError(f"{path}: array {key!r} missing")
                arrays[kind] = npz[key]
            cos = arrays["cos"].astype(np.float64)
            gold = arrays["gold"].astype(np.float64)
            if not (len(cos) == len(gold) == len(arrays["subset"])) or len(cos) < 3:
                raise ResultsError(f"{path}: {task} arrays differ in length or hold < 3 pairs")
            if not (np.isfinite(cos).all() and np.isfinite(gold).all()):
                raise ResultsError(f"{path}: {task} holds NaN/inf scores")
            out[task] = TaskPairs(cos, gold, arrays["subset"].astype(str))
    return out


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman x100 of two ``(reps, n)`` arrays (average ranks for ties)."""
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (rx * ry).sum(axis=1) / denom


def _groups(pairs: TaskPairs, aggregation: str) -> list[np.ndarray]:
    """Index groups resampled independently: the whole task (all) or each subset (wmean)."""
    if aggregation == "all":
        return [np.arange(len(pairs.cos))]
    if aggregation == "wmean":
        return [np.flatnonzero(pairs.subset == s) for s in np.unique(pairs.subset)]
    raise ValueError(f"aggregation must be 'all' or 'wmean', got {aggregation!r}")


def _check_same_pairs(runs: list[dict[str, TaskPairs]], tasks) -> None:
    """All runs must hold the same pairs (same gold scores) to share resampled indices."""
    first = runs[0]
    for run in runs[1:]:
        for task in tasks:
            if len(run[task].gold) != len(first[task].gold) or not np.allclose(
                run[task].gold, first[task].gold
            ):
                raise ResultsError(f"{task}: runs were scored on different pairs")


def bootstrap_avg(
    runs: list[dict[str, TaskPairs]],
    n_boot: int = 1000,
    seed: int = 0,
    aggregation: str = "all",
    tasks=STS_TASKS,
    chunk: int = 250,
) -> np.ndarray:
    """``(len(runs), n_boot)`` bootstrap replicates of each run's 7-task average Spearman.

    The same resampled pair indices are used for every run (paired design); the task-average
    row of :func:`bootstrap_tasks` (same resamples, same random stream).
    """
    if not runs:
        raise ValueError("bootstrap_avg needs at least one run")
    return bootstrap_tasks(runs, n_boot, seed, aggregation, tasks, chunk)[:, -1, :]


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaN replicates ignored)."""
    alpha = (1.0 - level) / 2.0
    low, high = np.nanquantile(samples, [alpha, 1.0 - alpha])
    return float(low), float(high)


def paired_bootstrap(
    runs_a: list[dict[str, TaskPairs]],
    runs_b: list[dict[str, TaskPairs]],
    n_boot: int = 1000,
    seed: int = 0,
    aggregation: str = "all",
    level: float = 0.95,
    tasks=STS_TASKS,
) -> dict[str, float]:
    """Paired bootstrap of Δ = avg(a) - avg(b) (each a seed mean) on shared resamples.

    Returns the observed Δ, its percentile CI and a two-sided p-value
    ``min(1, 2 * min(P*(Δ <= 0), P*(Δ >= 0)))`` with the +1 correction.
    """
    tasks = tuple(tasks)
    reps = bootstrap_avg([*runs_a, *runs_b], n_boot, seed, aggregation, tasks)
    delta_reps = reps[: len(runs_a)].mean(axis=0) - reps[len(runs_a) :].mean(axis=0)
    observed = np.mean([observed_avg(r, aggregation, tasks) for r in runs_a]) - np.mean(
        [observed_avg(r, aggregation, tasks) for r in runs_b]
    )
    low, high = percentile_ci(delta_reps, level)
    below = (np.sum(delta_reps <= 0) + 1) / (n_boot + 1)
    above = (np.sum(delta_reps >= 0) + 1) / (n_boot + 1)
    return dict(
        delta=float(observed),
        ci_low=low,
        ci_high=high,
        p_value=float(min(1.0, 2 * min(below, above))),
    )


def observed_avg(run: dict[str, TaskPairs], aggregation: str = "all", tasks=STS_TASKS) -> float:
    """The 7-task average Spearman x100 of one run, recomputed from its pairs."""
    total = 0.0
    for task in tasks:
        groups = _groups(run[task], aggregation)
        n = sum(len(g) for g in groups)
        for group in groups:
            rho = spearman_rows(run[task].cos[group][None], run[task].gold[group][None])[0]
            total += len(group) / n * rho
    return total / len(tuple(tasks))


def bootstrap_tasks(
    runs: list[dict[str, TaskPairs]],
    n_boot: int = 1000,
    seed: int = 0,
    aggregation: str = "all",
    tasks=STS_TASKS,
    chunk: int = 250,
) -> np.ndarray:
    """``(len(runs), len(tasks) + 1, n_boot)`` bootstrap replicates of each task's Spearman
    x100 and (last) of the task average; resampled indices shared by all runs (paired)."""
    if not runs:
        raise ValueError("bootstrap_tasks needs at least one run")
    tasks = tuple(tasks)
    _check_same_pairs(runs, tasks)
    rng = np.random.default_rng(seed)
    out = np.zeros((len(runs), len(tasks) + 1, n_boot))
    for t_idx, task in enumerate(tasks):
        groups = _groups(runs[0][task], aggregation)
        weights = np.array([len(g) for g in groups], dtype=float)
        weights /= weights.sum()
        for g_idx, group in enumerate(groups):
            for start in range(0, n_boot, chunk):
                stop = min(start + chunk, n_boot)
                idx = group[rng.integers(0, len(group), size=(stop - start, len(group)))]
                for r, run in enumerate(runs):
                    rho = spearman_rows(run[task].cos[idx], run[task].gold[idx])
                    out[r, t_idx, start:stop] += weights[g_idx] * rho
    out[:, -1, :] = out[:, :-1, :].mean(axis=1)
    return out
