"""Synthetic result files in the real formats (for tests and for trying the report rules).

Scores are genuinely computed from generated pairs: ``cos = gold + noise``, so a model's
Spearman is known in distribution and the JSON agrees with its ``.scores.npz``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from distilface.core.names import STS_TASKS
from distilface.report.tidy import parse_model_id

#: SimCSE's unsupervised defaults (run_unsup_example.sh), the hparams of the synthetic variants.
SIMCSE_DEFAULTS: dict[str, float | int | str] = {
    "pooling": "cls",
    "temperature": 0.05,
    "batch_size": 64,
    "learning_rate": 3e-5,
    "dropout": 0.1,
    "max_seq_length": 32,
}


def _task_pairs(rng: np.random.Generator, n: int, noise: float, task: str):
    """Gold scores are the same for every model (the real test sets are shared)."""
    gold = np.random.default_rng(1000 + STS_TASKS.index(task)).uniform(0.0, 5.0, n)
    cos = gold / 5.0 + rng.normal(0.0, noise, n)
    subsets = np.array([f"{task}-a" if i % 2 else f"{task}-b" for i in range(n)])
    return cos, gold, subsets


def write_eval(
    root: str | Path,
    model: str,
    pooling: str,
    noise: float,
    n_pairs: int = 120,
    seed: int = 0,
    params: int = 22_713_216,
    device: str = "cpu",
) -> Path:
    """Write ``{root}/{model}/{pooling}.json`` + ``.scores.npz``; return the JSON path."""
    rng = np.random.default_rng(seed)
    out = Path(root) / model / f"{pooling}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tasks, arrays, alls = {}, {}, []
    for task in STS_TASKS:
        cos, gold, subsets = _task_pairs(rng, n_pairs, noise, task)
        arrays |= {f"{task}__cos": cos, f"{task}__gold": gold, f"{task}__subset": subsets}
        rho, r = 100 * spearmanr(cos, gold)[0], 100 * pearsonr(cos, gold)[0]
        subs = {}
        for name in np.unique(subsets):
            mask = subsets == name
            subs[str(name)] = {
                "n": int(mask.sum()),
                "spearman": 100 * spearmanr(cos[mask], gold[mask])[0],
                "pearson": 100 * pearsonr(cos[mask], gold[mask])[0],
            }
        wmean = sum(s["n"] * s["spearman"] for s in subs.values()) / n_pairs
        wmean_r = sum(s["n"] * s["pearson"] for s in subs.values()) / n_pairs
        tasks[task] = {
            "n": n_pairs,
            "spearman": {"all": rho, "wmean": wmean},
            "pearson": {"all": r, "wmean": wmean_r},
            "subsets": subs,
        }
        alls.append((rho, r))
    data = {
        "model": model,
        "encoder": f"synthetic:{model}",
        "pooling": pooling,
        "aggregation": "all",
        "tasks": tasks,
        "avg": {
            "spearman": float(np.mean([a for a, _ in alls])),
            "pearson": float(np.mean([b for _, b in alls])),
        },
        "stsb_dev": {"n": n_pairs, "spearman": float(100 * (1 - noise) + rng.normal(0, 0.5))},
        "meta": {
            "params": params,
            "embedding_dim": 384,
            "device": device,
            "encode_seconds": 2.0 + noise,
            "sentences_encoded": 14 * n_pairs,
        },
    }
    out.write_text(json.dumps(data, indent=1))
    np.savez(out.with_name(f"{pooling}.scores.npz"), **arrays)
    return out


def write_train_log(root: str | Path, model: str, steps: int = 5, seed: int = 0) -> Path:
    """Write ``{root}/{model}/train_log.jsonl`` for a ``variant/hparams/seedN`` model."""
    parse_model_id(model)
    rng = np.random.default_rng(seed)
    out = Path(root) / model / "train_log.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(1, steps + 1):
        lines.append(
            json.dumps(
                {
                    "step": 125 * i,
                    "epoch": i / steps,
                    "loss": 2.0 / i + rng.normal(0, 0.01),
                    "lr": 3e-5 * (1 - i / steps),
                    "stsb_dev": 60 + 15 * (1 - 1 / i),
                    "sentences_per_s": 400.0,
                    "elapsed_s": 10.0 * i,
                }
            )
        )
    out.write_text("\n".join(lines) + "\n")
    (out.parent / "model.safetensors").write_bytes(b"\0" * 1000)
    return out
