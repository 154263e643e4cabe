"""File lists of the report stage (imported by workflow/rules/report.smk; pure, no I/O)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from distilface.report.axes import ablation_axes

REPORT_FIGURES: tuple[str, ...] = ("per_task", "training_curves", "size_quality")


def report_targets(config: dict) -> list[str]:
    """Every table and figure the report rules write for ``config``."""
    targets = [f"results/tables/main.{ext}" for ext in ("csv", "md", "tex")]
    targets += [f"results/tables/baselines.{ext}" for ext in ("csv", "md")]
    targets += [
        "results/tables/seeds.csv",
        "results/tables/comparisons.csv",
        "results/tables/efficiency.csv",
    ]
    for axis in ablation_axes(config):
        targets.append(f"results/tables/ablation_{axis}.csv")
        targets += [f"results/figures/ablation_{axis}.{ext}" for ext in ("png", "pdf")]
    for name in REPORT_FIGURES:
        targets += [f"results/figures/{name}.{ext}" for ext in ("png", "pdf")]
    return targets


def npz_for(eval_jsons: Iterable[str]) -> list[str]:
    """The per-pair score file beside each eval JSON (the bootstrap reads them)."""
    return [p[: -len(".json")] + ".scores.npz" for p in eval_jsons]


def model_dirs_for(train_logs: Iterable[str]) -> list[str]:
    """Trained model folders holding the training logs (the train rule outputs directories,
    so the folders, not the train_log.jsonl inside them, are the report's inputs)."""
    return sorted({os.path.dirname(p) for p in train_logs})
