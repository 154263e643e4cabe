"""Benchmark: CPU encode speed and fidelity of float32 vs bf16 autocast vs dynamic int8.

Answers "does CPU bf16 autocast (or int8) help on this processor?" for one model: the first
``--n-sentences`` distinct STS-B test sentences are encoded (pooling ``avg``) with

- ``fp32``: :meth:`Encoder.encode` as the evaluator runs it on the CPU;
- ``bf16_autocast``: the same call inside ``torch.autocast("cpu", dtype=torch.bfloat16)``;
- ``int8_dynamic``: the model after :func:`distilface.evaluate.quantize.quantize_linear_int8`.

Passes are interleaved (fp32, bf16, int8, fp32, ...) after one warm-up pass each; the table
gives median sentences/s and the mean / min cosine of each variant's embeddings to fp32's.
CPU flags (avx512_bf16 / amx) are recorded: without them bf16 matmuls are emulated.

    python benchmarks/bench_cpu_precision.py --n-sentences 300 --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch
    from harness import (
        add_common_args,
        default_out,
        load_average,
        markdown_table,
        start_record,
        write_json_atomic,
    )

    from distilface.data.readers import load_task, senteval_text
    from distilface.evaluate.encoders import Encoder
    from distilface.evaluate.quantize import quantize_linear_int8

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_cpu_precision")
    ap.add_argument("--n-sentences", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args(argv)
    if args.device == "cuda":
        ap.error("this benchmark is about CPU inference; use --device cpu or auto")
    record = start_record("cpu", args.wait_quiet)

    pairs = load_task("STSBenchmark", args.senteval_root, "test")
    sentences = list(dict.fromkeys(senteval_text(s) for s in pairs.sent1 + pairs.sent2))
    sentences = sentences[: args.n_sentences]
    fp32 = Encoder.load(args.model, device="cpu")
    int8 = copy.copy(fp32)
    int8.model = quantize_linear_int8(copy.deepcopy(fp32.model))
    variants: dict[str, tuple[Any, Any]] = {
        "fp32": (fp32, contextlib.nullcontext),
        "bf16_autocast": (fp32, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
        "int8_dynamic": (int8, contextlib.nullcontext),
    }

    def run(name: str) -> tuple[float, np.ndarray]:
        encoder, ctx = variants[name]
        start = time.perf_counter()
        with ctx():
            emb = encoder.encode(sentences, "avg", args.batch_size, 512, progress=False)
        return time.perf_counter() - start, emb

    embeddings = {name: run(name)[1] for name in variants}  # warm-up passes
    times: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.repeats):
        for name in variants:
            seconds, _ = run(name)
            times[name].append(seconds)
            print(f"repeat {r} {name:14s} {len(sentences) / seconds:7.1f} sent/s", file=sys.stderr)

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    rows = []
    base = statistics.median(times["fp32"])
    for name, ts in times.items():
        cos = (unit(embeddings[name]) * unit(embeddings["fp32"])).sum(1)
        rows.append(
            {
                "variant": name,
                "sentences_per_s": len(sentences) / statistics.median(ts),
                "speedup_vs_fp32": base / statistics.median(ts),
                "cos_to_fp32_mean": float(cos.mean()),
                "cos_to_fp32_min": float(cos.min()),
                "seconds": ts,
            }
        )
    table = markdown_table(
        rows, ["variant", "sentences_per_s", "speedup_vs_fp32", "cos_to_fp32_mean",
               "cos_to_fp32_min"]
    )  # fmt: skip
    print(table)
    out = default_out(args.out, "bench_cpu_precision", "cpu")
    write_json_atomic(
        out,
        {
            "benchmark": "cpu_precision",
            "settings": {
                "model": args.model,
                "n_sentences": len(sentences),
                "repeats": args.repeats,
                "batch_size": args.batch_size,
            },
            **record,
            "load_average_after": load_average(),
            "results": rows,
            "table_md": table,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
