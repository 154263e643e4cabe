"""The int8 experiment: STS scores and CPU encode speed of a model in float32 and dynamic int8
(Snakemake rule ``evaluate_int8``; ``python -m distilface.evaluate.int8`` exports and compares
one model). The transform itself lives in :mod:`distilface.evaluate.quantize`.

No work is repeated: the float32 scores come from the ``evaluate`` rule's JSON (an input of
the rule) when that run was float32; the int8 model is scored on every pair; the speed of
both is measured on the same fixed sample (:func:`speed_sample`, 2,048 distinct sentences),
not on a second encode of all 26,755.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distilface.core.io import write_json_atomic
from distilface.core.logs import log_event
from distilface.core.names import STS_TASKS
from distilface.core.provenance import machine_info
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.quantize import (
    MARKER,
    count_linear,
    quantize_dynamic_int8,
    read_quantization,
    state_dict_mib,
)
from distilface.evaluate.sts import EvalSettings, load_sts_data, score_encoder


def load_quantized_encoder(name_or_path: str | Path, device: str = "cpu"):
    """:meth:`Encoder.load` of an int8 export on the CPU; an error if the folder has no
    ``quantization.json`` (so a float32 model is never timed as the int8 one)."""
    if device != "cpu":
        raise ValueError(f"int8 models run on the CPU, not {device!r}")
    encoder = Encoder.load(name_or_path, device="cpu")
    if encoder.quantization is None:
        raise ValueError(f"{name_or_path}: no {MARKER}; not an int8 export")
    return encoder


#: Sentences each arm's encode speed is measured on (the same ones for float32 and int8).
SPEED_SAMPLE = 2048
#: Untimed sentences encoded first by each arm (first-call set-up is not speed).
WARMUP_SENTENCES = 32


def speed_sample(unique: Sequence[str], n: int = SPEED_SAMPLE) -> list[str]:
    """Every k-th distinct sentence, k = ceil(len(unique) / n), in first-seen order of the
    test sets: at most ``n`` sentences spread over every set (all of them when fewer)."""
    if n < 1:
        raise ValueError(f"speed sample size must be >= 1, not {n}")
    return list(unique[:: max(1, math.ceil(len(unique) / n))])


def fp32_scores_from_eval(
    eval_json: str | Path, tasks: Sequence[str], pooling: str, aggregation: str
) -> dict[str, float] | None:
    """Per-task Spearman of the ``evaluate`` rule's JSON for ``pooling``, or ``None`` when that
    run was not float32 (e.g. bf16 on a GPU: then the float32 model is scored here).

    The evaluate rule encodes all seven sets and STS-B dev in one pass; its float32 scores are
    the main table's numbers, so the int8 delta is taken against those.
    """
    obj = json.loads(Path(eval_json).read_text(encoding="utf-8"))
    if obj.get("skipped"):
        raise ValueError(f"{eval_json}: pooling {pooling!r} was skipped ({obj['skipped']})")
    if obj.get("pooling") != pooling:
        raise ValueError(f"{eval_json}: key 'pooling' is {obj.get('pooling')!r}, not {pooling!r}")
    missing = [t for t in tasks if t not in obj.get("tasks", {})]
    if missing:
        raise ValueError(f"{eval_json}: key 'tasks' lacks {missing}")
    if obj.get("meta", {}).get("dtype") != "float32":
        return None
    return {t: float(obj["tasks"][t]["spearman"][aggregation]) for t in tasks}


def quantization_report(
    fp32_path: str | Path,
    int8_path: str | Path,
    senteval_root: str | Path,
    tasks: Sequence[str] | None = None,
    pooling: str = "avg",
    settings: EvalSettings | None = None,
    fp32_eval_json: str | Path | None = None,
    speed_sentences: int = SPEED_SAMPLE,
) -> dict[str, Any]:
    """STS Spearman and CPU encode sentences/s of the float32 and int8 models.

    The test sets of ``tasks`` (default: all seven) are read once. Speed: both models, on the
    CPU one after the other in this process, encode the same :func:`speed_sample` (after an
    untimed warm-up). Scores: int8 on every pair (:func:`distilface.evaluate.sts.score_encoder`);
    float32 from ``fp32_eval_json`` (the ``evaluate`` rule's JSON) when given and float32,
    else scored here the same way. Returns per-model scores, speed, weight size, and the
    differences (``delta_avg_spearman`` = int8 - fp32, ``speedup`` = int8 / fp32 sentences/s).
    """
    tasks = list(tasks or STS_TASKS)
    cfg = settings or EvalSettings()
    data = load_sts_data(senteval_root, tasks, dev=False)
    unique = data.unique
    sample = speed_sample(unique, speed_sentences)
    given = None
    if fp32_eval_json is not None:
        given = fp32_scores_from_eval(fp32_eval_json, tasks, pooling, cfg.aggregation)
    out: dict[str, Any] = {
        "tasks": tasks,
        "pooling": pooling,
        "aggregation": cfg.aggregation,
        "batch_size": cfg.batch_size,
        "max_length": cfg.max_length,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "speed_sample": {
            "sentences": len(sample),
            "of_unique": len(unique),
            "rule": f"every {max(1, math.ceil(len(unique) / speed_sentences))}-th distinct "
            "sentence of the test sets in first-seen order; both arms; untimed warm-up of "
            f"{WARMUP_SENTENCES}",
        },
    }
    fp32 = Encoder.load(str(fp32_path), device="cpu", precision="fp32")
    settings_args = (pooling, cfg.batch_size, cfg.max_length, False, cfg.aggregation)
    scores = given or score_encoder(fp32, data, tasks, *settings_args)["tasks"]
    out["fp32"] = _arm(fp32, fp32_path, sample, pooling, cfg, scores)
    out["fp32"]["scores_from"] = str(fp32_eval_json) if given else "scored here"
    del fp32
    int8 = load_quantized_encoder(str(int8_path))
    scored = score_encoder(int8, data, tasks, *settings_args)
    out["int8"] = _arm(int8, int8_path, sample, pooling, cfg, scored["tasks"])
    out["int8"].update(scores_from="scored here", score_encode_s=scored["encode_s"])
    out["delta_avg_spearman"] = out["int8"]["avg_spearman"] - out["fp32"]["avg_spearman"]
    out["speedup"] = out["int8"]["sentences_per_s"] / out["fp32"]["sentences_per_s"]
    return out


def _arm(
    encoder: Encoder,
    path: str | Path,
    sample: list[str],
    pooling: str,
    cfg: EvalSettings,
    scores: dict[str, float],
) -> dict[str, Any]:
    """One arm of the report: its scores, its timed encode of ``sample``, its size."""
    encoder.encode(sample[:WARMUP_SENTENCES], pooling, cfg.batch_size, cfg.max_length, False)
    start = time.perf_counter()
    encoder.encode(sample, pooling, cfg.batch_size, cfg.max_length, progress=False)
    seconds = time.perf_counter() - start
    return {
        "path": str(path),
        "compute_dtype": encoder.compute_dtype,
        "params": encoder.n_params,
        "avg_spearman": float(np.mean(list(scores.values()))),
        "tasks": scores,
        "sentences": len(sample),
        "encode_s": seconds,
        "sentences_per_s": len(sample) / seconds,
        "state_dict_mib": state_dict_mib(encoder.model),
        **count_linear(encoder.model),
    }


def evaluate_int8(
    model_id: str,
    fp32_path: str | Path,
    int8_path: str | Path,
    senteval_root: str | Path,
    out_json: str | Path,
    pooling: str = "avg",
    tasks: Sequence[str] | None = None,
    fp32_eval_json: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Rule ``evaluate_int8``: :func:`quantization_report` + the machine, written atomically to
    ``out_json`` (what the report's efficiency table reads). ``options``: fields of
    :class:`~distilface.evaluate.sts.EvalSettings` (``batch_size``, ``max_length``,
    ``aggregation``) and ``speed_sentences``."""
    speed = options.pop("speed_sentences", SPEED_SAMPLE)
    report = quantization_report(
        fp32_path,
        int8_path,
        senteval_root,
        tasks,
        pooling,
        EvalSettings(**options),
        fp32_eval_json,
        speed,
    )
    report = {"model": model_id, **report, "machine": machine_info("cpu")}
    write_json_atomic(out_json, report)
    log_event(
        logging.getLogger(__name__),
        "int8 report written",
        model=model_id,
        pooling=pooling,
        avg_fp32=report["fp32"]["avg_spearman"],
        avg_int8=report["int8"]["avg_spearman"],
        delta_avg_spearman=report["delta_avg_spearman"],
        speedup=report["speedup"],
        speed_sentences=report["speed_sample"]["sentences"],
        path=str(out_json),
    )
    return report


def main(argv: list[str] | None = None) -> None:
    """CLI: export an int8 folder and, with ``--report``, compare it with float32 on STS."""
    # lazy: only the command line needs it
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model folder or bundled: name")
    ap.add_argument("--out", required=True, type=Path, help="int8 model folder to create")
    ap.add_argument("--report", type=Path, help="write the fp32-vs-int8 STS/speed JSON here")
    ap.add_argument("--senteval-root", type=Path, help="needed with --report")
    ap.add_argument("--tasks", nargs="+", choices=list(STS_TASKS), default=list(STS_TASKS))
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.report and args.senteval_root is None:
        ap.error("--report needs --senteval-root")
    out = quantize_dynamic_int8(args.model, args.out)
    print(json.dumps(read_quantization(out), indent=2))
    if args.report:
        report = evaluate_int8(
            args.model, args.model, out, args.senteval_root, args.report, tasks=args.tasks
        )
        print(json.dumps({k: report[k] for k in ("delta_avg_spearman", "speedup")}))


if __name__ == "__main__":
    main()
