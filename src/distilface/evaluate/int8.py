"""The int8 experiment: STS scores and CPU encode speed of a model in float32 and dynamic int8
(Snakemake rule ``evaluate_int8``; ``python -m distilface.evaluate.int8`` exports and compares
one model). The transform itself lives in :mod:`distilface.evaluate.quantize`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from distilface.evaluate.sts import score_encoder


def load_quantized_encoder(name_or_path: str | Path, device: str = "cpu"):
    """:meth:`Encoder.load` of an int8 export on the CPU; an error if the folder has no
    ``quantization.json`` (so a float32 model is never timed as the int8 one)."""
    if device != "cpu":
        raise ValueError(f"int8 models run on the CPU, not {device!r}")
    encoder = Encoder.load(name_or_path, device="cpu")
    if encoder.quantization is None:
        raise ValueError(f"{name_or_path}: no {MARKER}; not an int8 export")
    return encoder


def quantization_report(
    fp32_path: str | Path,
    int8_path: str | Path,
    senteval_root: str | Path,
    tasks: Sequence[str] | None = None,
    pooling: str = "avg",
    batch_size: int = 128,
    max_length: int = 512,
    aggregation: str = "all",
) -> dict[str, Any]:
    """STS Spearman and CPU encode sentences/s of the float32 and int8 models.

    Both run on the CPU, one after the other in this process, over the same deduplicated
    sentences of ``tasks`` (default: all seven), with :func:`distilface.evaluate.sts.score_encoder`
    (the evaluator's normalisation and scoring). Returns per-model scores, speed, weight size,
    and the differences (``delta_avg_spearman`` = int8 - fp32, ``speedup`` = int8 / fp32
    sentences/s).
    """
    tasks = list(tasks or STS_TASKS)
    out: dict[str, Any] = {
        "tasks": tasks,
        "pooling": pooling,
        "aggregation": aggregation,
        "batch_size": batch_size,
        "max_length": max_length,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
    }
    for name, load in (
        ("fp32", lambda: Encoder.load(str(fp32_path), device="cpu", precision="fp32")),
        ("int8", lambda: load_quantized_encoder(str(int8_path))),
    ):
        encoder = load()
        scores = score_encoder(
            encoder,
            senteval_root,
            tasks,
            pooling,
            batch_size,
            max_length,
            aggregation=aggregation,
        )
        out[name] = {
            "path": str(fp32_path if name == "fp32" else int8_path),
            "compute_dtype": encoder.compute_dtype,
            "params": encoder.n_params,
            "avg_spearman": scores["avg_spearman"],
            "tasks": scores["tasks"],
            "sentences": scores["n_unique"],
            "encode_s": scores["encode_s"],
            "sentences_per_s": scores["n_unique"] / scores["encode_s"],
            "state_dict_mib": state_dict_mib(encoder.model),
            **count_linear(encoder.model),
        }
        del encoder
    out["delta_avg_spearman"] = out["int8"]["avg_spearman"] - out["fp32"]["avg_spearman"]
    out["speedup"] = out["int8"]["sentences_per_s"] / out["fp32"]["sentences_per_s"]
    return out


def evaluate_int8(
    model_id: str,
    fp32_path: str | Path,
    int8_path: str | Path,
    senteval_root: str | Path,
    out_json: str | Path,
    pooling: str = "avg",
    tasks: Sequence[str] | None = None,
    batch_size: int = 128,
    max_length: int = 512,
    aggregation: str = "all",
) -> dict[str, Any]:
    """Rule ``evaluate_int8``: :func:`quantization_report` + the machine, written atomically to
    ``out_json`` (what the report's efficiency table reads)."""
    report = quantization_report(
        fp32_path, int8_path, senteval_root, tasks, pooling, batch_size, max_length, aggregation
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
        path=str(out_json),
    )
    return report


def main(argv: list[str] | None = None) -> None:
    """CLI: export an int8 folder and, with ``--report``, compare it with float32 on STS."""
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
