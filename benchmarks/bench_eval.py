"""Benchmark: scoring one model on the STS sets, our evaluator vs sentence-transformers.

Arms (each run in its own fresh Python process; peak RSS = that process's ``VmHWM``, see
``harness.run_child``; time = in-process wall from after the top-level imports
(torch, transformers, scipy, and sentence-transformers or distilface.evaluate.sts) to the scores, so
data + model loading, encoding and scoring are included, and so is the lazy import of the
model class in both; ``process_wall_s`` adds interpreter start and all imports):

- ``ours``: :func:`distilface.evaluate.sts.evaluate_model` (pooling ``avg``; a fresh, empty
  embedding cache each repeat, so nothing is cached; it also encodes STS-B dev and writes its
  JSON/npz, as in the workflow). With ``--tasks`` naming a subset, the same pieces
  (``embed_unique`` + ``score_similarities``) on those tasks only.
- ``ours_cached``: the same call again on the cache the ``ours`` run of the same repeat filled.
- ``st``: MTEB-style ``SentenceTransformer(path).encode`` per task, ``sentences1`` and
  ``sentences2`` encoded separately (no dedup), ``normalize_embeddings=True`` (mean pooling +
  normalize = our ``avg``), cosine + ``scipy.stats.spearmanr`` per task.
- ``st_bf16`` (CUDA only): ``st`` under ``torch.autocast("cuda", bfloat16)``.
- ``ours_fp32``, ``ours_bf16`` (CUDA only): ``ours`` with ``precision`` forced, the measurement
  behind ``precision="auto"`` (:data:`distilface.evaluate.encoders.AUTO_BF16_MIN_PARAMS`: on
  CUDA float32 below that size, bf16 autocast above; ``ours`` runs ``auto``).

``fixed_s`` = wall - encode: what the evaluator spends besides the forward passes (data, model
load, scoring, writes); ``ours`` also reports its ``meta.phase_seconds``.

Both see identical text (SentEval's whitespace-normalised sentences) and the same batch size;
repeats are interleaved (ours, st, [ours_fp32, ours_bf16, st_bf16,] ours_cached, ours, ...).
The two average Spearman values must agree within 0.05 (x100 scale) or the script exits 1
after writing.

    python benchmarks/bench_eval.py --repeats 3
    python benchmarks/bench_eval.py --device cuda --model /path/all-MiniLM-L6-v2 \\
        --senteval-root /path/senteval
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SPEARMAN_TOLERANCE = 0.05


# ---------------------------------------------------------------------------------------------
# child side: one arm, one process


def _precision(arm: str) -> str:
    """``ours_fp32`` / ``ours_bf16`` (CUDA only) force the precision; ``ours`` is ``auto``."""
    return {"ours_fp32": "fp32", "ours_bf16": "bf16"}.get(arm, "auto")


def arm_ours(args: argparse.Namespace) -> dict[str, Any]:
    """Our evaluator; full task list -> ``evaluate_model``, a subset -> its building blocks."""
    # what the st arm has imported before its timer (sentence_transformers pulls these in)
    import scipy.stats  # noqa: F401
    from transformers import AutoModel, AutoTokenizer  # noqa: F401

    from distilface.core.names import STS_TASKS
    from distilface.evaluate.sts import evaluate_model

    start = time.perf_counter()
    if list(args.tasks) == list(STS_TASKS):
        with tempfile.TemporaryDirectory() as tmp:
            paths = evaluate_model(
                model_id="bench",
                encoder_path=args.model,
                poolings=["avg"],
                senteval_root=args.senteval_root,
                out_dir=tmp,
                batch_size=args.batch_size,
                max_length=args.max_length,
                cache_dir=args.cache_dir,
                device=args.device,
                progress=False,
                precision=_precision(args.arm),
            )
            result = json.loads(Path(paths["avg"]).read_text(encoding="utf-8"))
        wall = time.perf_counter() - start
        tasks = {t: v["spearman"]["all"] for t, v in result["tasks"].items()}
        meta = result["meta"]
        return {
            "wall_s": wall,
            "avg_spearman": result["avg"]["spearman"],
            "tasks": tasks,
            "encode_s": meta["encode_seconds"],
            "unique_sentences_encoded": meta["sentences_encoded"],
            "from_cache": meta["from_cache"],
            "dtype": meta["dtype"],
            "phase_seconds": meta.get("phase_seconds"),
        }
    return _ours_subset(args, start)


def _ours_subset(args: argparse.Namespace, start: float) -> dict[str, Any]:
    import numpy as np
    from harness import load_sts_data

    from distilface.data.models import model_fingerprint
    from distilface.evaluate.cache import EmbeddingCache
    from distilface.evaluate.encoders import Encoder
    from distilface.evaluate.sts import embed_unique, score_embeddings

    data = load_sts_data(args.senteval_root, list(args.tasks), dev=False)
    unique = data.unique
    encoder = Encoder.load(args.model, device=args.device, precision=_precision(args.arm))
    cache = EmbeddingCache(args.cache_dir) if args.cache_dir else None
    fingerprint = model_fingerprint(encoder.model_dir) if cache else None
    emb, info = embed_unique(
        encoder, unique, ["avg"], cache, fingerprint, args.batch_size, args.max_length, False
    )
    scored, _ = score_embeddings(data, emb["avg"])  # the evaluator's own scoring (one path)
    tasks = {t: scored["tasks"][t]["spearman"]["all"] for t in data.tasks}
    return {
        "wall_s": time.perf_counter() - start,
        "avg_spearman": float(np.mean(list(tasks.values()))),
        "tasks": tasks,
        "encode_s": info["encode_seconds"],
        "unique_sentences_encoded": len(unique),
        "from_cache": info["from_cache"],
        "dtype": encoder.compute_dtype,
    }


def arm_st(args: argparse.Namespace, bf16: bool) -> dict[str, Any]:
    """sentence-transformers, MTEB-style: encode each task's two sentence lists separately."""
    import contextlib

    import numpy as np
    import torch
    from harness import load_sts_data
    from scipy.stats import spearmanr
    from sentence_transformers import SentenceTransformer

    from distilface.data.models import resolve_model

    start = time.perf_counter()
    data = load_sts_data(args.senteval_root, list(args.tasks), dev=False)
    model = SentenceTransformer(resolve_model(args.model), device=args.device)
    model.max_seq_length = min(args.max_length, model.tokenizer.model_max_length)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    tasks: dict[str, float] = {}
    encode_s = 0.0
    with autocast:
        for t in data.tasks:
            a, b, pairs = data.sets[t].sent1, data.sets[t].sent2, data.sets[t]
            t0 = time.perf_counter()
            e1 = model.encode(
                a, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            e2 = model.encode(
                b, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            encode_s += time.perf_counter() - t0
            cos = np.sum(e1.astype(np.float64) * e2.astype(np.float64), axis=1)
            tasks[t] = 100.0 * float(spearmanr(cos, pairs.gold).statistic)
    return {
        "wall_s": time.perf_counter() - start,
        "avg_spearman": float(np.mean(list(tasks.values()))),
        "tasks": tasks,
        "encode_s": encode_s,
        "unique_sentences_encoded": None,
        "dtype": "bfloat16 autocast" if bf16 else "float32",
        "max_seq_length": model.max_seq_length,
    }


def run_arm(args: argparse.Namespace) -> None:
    """Child entry: run ``args.arm`` and write its result JSON (with GPU peak memory)."""
    import torch
    from harness import own_peak_rss_mib

    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if args.arm in ("ours", "ours_fp32", "ours_bf16", "ours_cached"):
        out = arm_ours(args)
    else:
        out = arm_st(args, bf16=args.arm == "st_bf16")
    if args.device == "cuda":
        torch.cuda.synchronize()
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    out["arm"] = args.arm
    out["self_peak_rss_mib"] = own_peak_rss_mib()
    Path(args.result).write_text(json.dumps(out), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# parent side: interleaved repeats, table, JSON


def child_argv(args: argparse.Namespace, arm: str, cache_dir: str | None) -> list[str]:
    argv = [
        str(Path(__file__).resolve()),
        "--arm",
        arm,
        "--device",
        args.device,
        "--model",
        args.model,
        "--senteval-root",
        str(args.senteval_root),
        "--batch-size",
        str(args.batch_size),
        "--max-length",
        str(args.max_length),
        "--tasks",
        *args.tasks,
    ]
    return argv + (["--cache-dir", cache_dir] if cache_dir else [])


def summarize_arms(runs: dict[str, list[dict]], pair_sentences: int) -> dict[str, dict]:
    """Per arm: median / min / max of the wall, process, encode and fixed times, peak memory,
    pair-sentences/s, and the arm's score and dtype (from its first run)."""
    from harness import summarize

    summary = {}
    for arm, results in runs.items():
        if not results:
            continue
        wall = summarize([x["wall_s"] for x in results])
        summary[arm] = {
            "wall_s": wall,
            "process_wall_s": summarize([x["process_wall_s"] for x in results]),
            "encode_s": summarize([x["encode_s"] for x in results]),
            "fixed_s": summarize([x["wall_s"] - x["encode_s"] for x in results]),
            "phase_seconds": results[-1].get("phase_seconds"),
            "peak_rss_mib": max(x["peak_rss_mib"] for x in results),
            "gpu_peak_mib": max((x.get("gpu_peak_mib") or 0.0) for x in results) or None,
            "pair_sentences_per_s": pair_sentences / wall["median"],
            "avg_spearman": results[0]["avg_spearman"],
            "dtype": results[0]["dtype"],
        }
    return summary


def table_rows(summary: dict[str, dict]) -> list[dict[str, Any]]:
    """One printed row per arm that ran."""
    return [
        {
            "arm": arm,
            "dtype": s["dtype"],
            "wall_s (median)": s["wall_s"]["median"],
            "min-max": f"{s['wall_s']['min']:.2f}-{s['wall_s']['max']:.2f}",
            "encode_s": s["encode_s"]["median"],
            "fixed_s": s["fixed_s"]["median"],
            "pair-sent/s": s["pair_sentences_per_s"],
            "peak RSS MiB": s["peak_rss_mib"],
            "GPU MiB": s["gpu_peak_mib"],
            "avg Spearman": s["avg_spearman"],
            "time / ours": s["speedup_of_ours_vs_this"],
        }
        for arm, s in summary.items()
        if "dtype" in s
    ]


def orchestrate(args: argparse.Namespace) -> int:
    from harness import (
        default_out,
        load_average,
        markdown_table,
        run_arms,
        start_record,
        write_json_atomic,
    )

    from distilface.core.names import STS_TASKS
    from distilface.data.readers import load_task

    record = start_record(args.device, args.wait_quiet)
    pair_sentences = sum(2 * len(load_task(t, args.senteval_root, "test")) for t in args.tasks)
    cuda_only = ["ours_fp32", "ours_bf16", "st_bf16"] if args.device == "cuda" else []
    arms = ["ours", "st", *cuda_only, "ours_cached"]

    def check(r: int, arm: str, res: dict[str, Any]) -> None:
        if arm == "ours_cached" and res["from_cache"] != ["avg"]:
            raise RuntimeError(f"repeat {r}: cached re-run re-encoded ({res})")
        if arm in ("ours", "ours_fp32", "ours_bf16") and res["from_cache"]:
            raise RuntimeError(f"repeat {r}: 'uncached' run hit the cache ({res})")

    with tempfile.TemporaryDirectory(prefix="bench-eval-cache-") as tmp:
        runs, failed = run_arms(
            arms,
            args.repeats,
            # a fresh, empty cache per repeat: ours encodes, ours_cached then reads it
            lambda r, arm: child_argv(args, arm, None if arm == "st" else f"{tmp}/repeat{r}"),
            lambda res: (
                f"{res['wall_s']:8.2f} s  {res['peak_rss_mib']:7.0f} MiB  "
                f"avg {res['avg_spearman']:.3f}"
            ),
            check=check,
        )
    summary = summarize_arms(runs, pair_sentences)
    base = summary["ours"]["wall_s"]["median"]
    for arm in summary:
        summary[arm]["speedup_of_ours_vs_this"] = summary[arm]["wall_s"]["median"] / base
    if "st" not in summary:
        summary["st"] = {"wall_s": {"median": float("nan")}, "avg_spearman": float("nan")}
    diff = abs(summary["ours"]["avg_spearman"] - summary["st"]["avg_spearman"])
    agree = diff <= SPEARMAN_TOLERANCE  # False when st failed (NaN)
    rows = table_rows(summary)
    table = markdown_table(rows, list(rows[0]))
    print(table)
    print(
        f"\nours vs st: {summary['st']['wall_s']['median'] / base:.2f}x faster "
        f"(target >= 1.5x); avg Spearman ours {summary['ours']['avg_spearman']:.3f} vs "
        f"st {summary['st']['avg_spearman']:.3f} (|diff| {diff:.4f}, "
        f"{'agree' if agree else 'DISAGREE'} within {SPEARMAN_TOLERANCE})"
    )
    out = default_out(args.out, "bench_eval", args.device)
    write_json_atomic(
        out,
        {
            "benchmark": "eval",
            "settings": {
                "model": args.model,
                "tasks": list(args.tasks),
                "all_tasks": list(args.tasks) == list(STS_TASKS),
                "repeats": args.repeats,
                "batch_size": args.batch_size,
                "max_length": args.max_length,
                "pair_sentences": pair_sentences,
                "memory": "peak RSS (VmHWM) of each arm's own process",
                "time": "in-process wall from after imports to scores (data+model load incl.)",
            },
            **record,
            "load_average_after": load_average(),
            "summary": summary,
            "speedup_ours_vs_st": summary["st"]["wall_s"]["median"] / base,
            "speedup_ours_vs_st_bf16": (
                summary["st_bf16"]["wall_s"]["median"] / base if "st_bf16" in summary else None
            ),
            "spearman_abs_diff": diff,
            "spearman_agree": agree,
            "failed_arms": failed,
            "table_md": table,
            "runs": runs,
        },
    )
    print(f"wrote {out}")
    return 0 if agree else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from harness import add_common_args, resolve_device

    from distilface.core.names import STS_TASKS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_eval")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tasks", nargs="+", default=list(STS_TASKS), choices=list(STS_TASKS))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument(
        "--arm",
        choices=("ours", "ours_fp32", "ours_bf16", "ours_cached", "st", "st_bf16"),
        help=argparse.SUPPRESS,
    )
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.device = resolve_device(args.device)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if not args.senteval_root.is_dir():
        ap.error(f"--senteval-root {args.senteval_root}: no such folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.arm:
        run_arm(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
