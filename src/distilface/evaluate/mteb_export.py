"""Our eval JSON -> MTEB result files (what ``mteb``'s result loader reads).

Layout, as ``mteb run --output_folder DIR`` writes it and ``mteb.ResultCache`` reads it::

    DIR/results/{org}__{name}/{revision}/model_meta.json
    DIR/results/{org}__{name}/{revision}/{STS12,...,STSBenchmark,SICK-R}.json

Each task file is a ``TaskResult`` (``dataset_revision``, ``task_name``, ``mteb_version``,
``scores: {"test": [{"main_score", "cosine_spearman", "cosine_pearson", "hf_subset",
"languages", ...}]}``, ``evaluation_time``, ``kg_co2_emissions``); scores are correlations in
[-1, 1] (MTEB's scale), ``main_score`` = cosine Spearman, the "all" aggregation for STS12-16.

What differs from an MTEB run, and is written into every file (``distilface`` key of the
scores): the pairs are SentEval's files (SimCSE's setting), not MTEB's Hugging Face copies, so
``dataset_revision`` names the SentEval source instead of a hub commit and ``mteb_version`` is
null; SICK-R is SentEval's 4,927-pair test split where MTEB scores all 9,927 SICK pairs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distilface.core.io import write_json_atomic
from distilface.core.names import STS_TASKS

#: Our task id -> MTEB task name.
MTEB_TASK_NAMES: dict[str, str] = {
    "STS12": "STS12",
    "STS13": "STS13",
    "STS14": "STS14",
    "STS15": "STS15",
    "STS16": "STS16",
    "STSBenchmark": "STSBenchmark",
    "SICKRelatedness": "SICK-R",
}
SPLIT_NOTES: dict[str, str] = {
    "SICKRelatedness": (
        "SentEval's SICK test split (4,927 pairs); MTEB's SICK-R scores all 9,927 SICK "
        "pairs, so this number is not comparable with MTEB's"
    ),
}
DATASET_REVISION = "senteval-files-scored-by-distilface"


def model_folder_name(name: str) -> str:
    """MTEB's folder name of a model: ``org/name`` -> ``org__name``."""
    return name.replace("/", "__")


def task_result(eval_data: dict[str, Any], task: str) -> dict[str, Any]:
    """One MTEB ``TaskResult`` dict from our eval JSON's block of ``task``."""
    block = eval_data["tasks"][task]
    spearman = float(block["spearman"]["all"]) / 100.0
    pearson = float(block["pearson"]["all"]) / 100.0
    meta = eval_data.get("meta") or {}
    note = {
        "pooling": eval_data.get("pooling"),
        "n_pairs": block.get("n"),
        "split": block.get("split", "test"),
        "source": "SentEval files (SimCSE's evaluation setting), scored by distilface",
    }
    if task in SPLIT_NOTES:
        note["not_comparable_with_mteb"] = SPLIT_NOTES[task]
    return {
        "dataset_revision": DATASET_REVISION,
        "task_name": MTEB_TASK_NAMES[task],
        "mteb_version": None,
        "scores": {
            "test": [
                {
                    "main_score": spearman,
                    "cosine_spearman": spearman,
                    "cosine_pearson": pearson,
                    "spearman": spearman,
                    "pearson": pearson,
                    "hf_subset": "default",
                    "languages": ["eng-Latn"],
                    "distilface": note,
                }
            ]
        },
        "evaluation_time": meta.get("eval_seconds"),
        "kg_co2_emissions": None,
    }


def write_mteb_results(
    eval_json: str | Path, out_dir: str | Path, model_name: str, revision: str
) -> list[Path]:
    """Write the MTEB files of one eval JSON (one pooling) under ``out_dir/results/``."""
    data = json.loads(Path(eval_json).read_text(encoding="utf-8"))
    if "skipped" in data:
        raise ValueError(f"{eval_json}: pooling skipped ({data['skipped']}), nothing to export")
    folder = Path(out_dir) / "results" / model_folder_name(model_name) / revision
    folder.mkdir(parents=True, exist_ok=True)
    meta = data.get("meta") or {}
    model_meta = {
        "name": model_name,
        "revision": revision,
        "release_date": None,
        "languages": ["eng-Latn"],
        "n_parameters": meta.get("params"),
        "embed_dim": meta.get("embedding_dim"),
        "framework": ["PyTorch", "Sentence Transformers"],
        "similarity_fn_name": "cosine",
        "reference": None,
        "distilface_pooling": data.get("pooling"),
    }
    written = [write_json_atomic(folder / "model_meta.json", model_meta)]
    for task in STS_TASKS:
        path = folder / f"{MTEB_TASK_NAMES[task]}.json"
        written.append(write_json_atomic(path, task_result(data, task)))
    return written
