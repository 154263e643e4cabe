"""Benchmark: how far are training and encoding from the matmul limit of this device?

1. FLOPs, counted by ``torch.utils.flop_counter.FlopCounterMode`` on real work:
   - one unsup-SimCSE training step of the 3-layer student (layers 0,2,4 of ``--model``),
     forward + backward, built with :mod:`distilface.train.loop`'s own ``make_batch`` /
     ``compute_loss`` on ``--batch-size`` real corpus sentences (x2 dropout views) truncated at
     ``--max-length`` (the settings of ``bench_train.py``);
   - the evaluation forward of ``--model`` per STS sentence: :meth:`Encoder.encode` (length-
     sorted, dynamic padding) over a stride sample of ``--eval-sentences`` of the distinct
     sentences of the seven test sets (0 = all of them).
2. The measured matmul rate of the device (``torch.mm``; ``--repeats`` rounds of >= 0.5 s
   after a warm-up; the best round is the bound, the median is recorded): float32, plus bf16
   on CUDA; once for the step's largest GEMM shape (tokens x hidden x intermediate) and once
   for a large square GEMM (the device's practical peak).
3. The bound = FLOPs / rate (shape-matched rate), set against the measured throughputs in
   ``results/bench/bench_train_<device>.json`` and ``bench_eval_<device>.json`` when present
   (same device, earlier run): the fraction of the matmul limit each arm reaches.

FlopCounterMode counts matmul-like ops (mm, addmm, bmm, attention): 2 FLOPs per
multiply-add. Element-wise work (GELU, LayerNorm, softmax, dropout, AdamW) is not counted and
is part of why a real step stays below the bound.

    python benchmarks/bench_roofline.py --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device: str, dtype: Any, m: int, k: int, n: int, repeats: int) -> dict[str, float]:
    """FLOP/s of ``(m x k) @ (k x n)`` on ``device`` in ``dtype``: ``repeats`` timed rounds of
    >= 0.5 s each after a warm-up; ``best`` (the achievable limit) and ``median``."""
    import torch

    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    torch.mm(a, b)  # warm-up
    _sync(device)
    start = time.perf_counter()
    torch.mm(a, b)
    _sync(device)
    calls = max(1, int(0.5 / max(time.perf_counter() - start, 1e-6)))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        _sync(device)
        rates.append(2.0 * m * k * n * calls / (time.perf_counter() - start))
    return {"best": max(rates), "median": statistics.median(rates)}


def train_step_flops(args: argparse.Namespace, student: Path, corpus: Path) -> dict[str, Any]:
    """FLOPs of one forward + backward of our unsup-SimCSE step (real sentences)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from distilface.data.readers import read_corpus
    from distilface.train.batches import TrainData, compute_loss, make_batch
    from distilface.train.losses import TeacherQueue
    from distilface.train.model import SentenceModel, load_backbone
    from distilface.train.settings import TrainConfig

    cfg = TrainConfig(
        objective="simcse_unsup",
        student=student,
        out_dir=Path(tempfile.gettempdir()) / "roofline-unused",
        data=corpus,
        senteval_root=None,
        temperature=0.05,
        batch_size=args.batch_size,
        max_seq_length=args.max_length,
        pooling="avg",
        dropout=0.1,
    )
    sentences = read_corpus(corpus)[: args.batch_size]
    backbone, tokenizer = load_backbone(str(student), cfg.dropout)
    device = torch.device(args.device)
    model = SentenceModel(backbone, cfg.pooling, None).to(device).train()
    data = TrainData(examples=sentences)
    idx = torch.arange(len(sentences))
    batch, target, _ = make_batch(cfg, data, idx, tokenizer, device)
    with FlopCounterMode(display=False) as counter:
        loss = compute_loss(cfg, model, batch, target, idx.to(device), TeacherQueue(0))
        loss.backward()
    hidden = int(backbone.config.hidden_size if hasattr(backbone.config, "hidden_size")
                 else backbone.config.dim)  # fmt: skip
    inter = int(getattr(backbone.config, "intermediate_size", 0)
                or getattr(backbone.config, "hidden_dim", 4 * hidden))  # fmt: skip
    return {
        "flops": int(counter.get_total_flops()),
        "tokens": int(batch["input_ids"].numel()),
        "batch_shape": list(batch["input_ids"].shape),
        "hidden": hidden,
        "intermediate": inter,
        "params": sum(p.numel() for p in backbone.parameters()),
    }


def encode_flops(args: argparse.Namespace) -> dict[str, Any]:
    """FLOPs per sentence of the evaluator's forward over (a stride sample of) the STS set."""
    from harness import load_sts_data
    from torch.utils.flop_counter import FlopCounterMode

    from distilface.core.names import STS_TASKS
    from distilface.evaluate.encoders import Encoder

    unique = load_sts_data(args.senteval_root, STS_TASKS, dev=False).unique
    stride = max(1, len(unique) // args.eval_sentences) if args.eval_sentences else 1
    sample = unique[::stride]
    encoder = Encoder.load(args.model, device=args.device, precision="fp32")
    with FlopCounterMode(display=False) as counter:
        encoder.encode(sample, "avg", batch_size=128, max_length=512, progress=False)
    flops = int(counter.get_total_flops())
    return {
        "unique_sentences": len(unique),
        "sampled": len(sample),
        "stride": stride,
        "flops_per_sentence": flops / len(sample),
        "flops_all_sentences_est": flops / len(sample) * len(unique),
    }


def measured(device: str, folder: Path) -> dict[str, Any]:
    """Throughputs of the earlier bench_train / bench_eval runs on this device, if any."""
    out: dict[str, Any] = {}
    for name in ("train", "eval"):
        path = folder / f"bench_{name}_{device}.json"
        if path.is_file():
            out[name] = {"path": str(path), **json.loads(path.read_text())}
    return out


def gemm_rates(args: argparse.Namespace, step: dict[str, Any]) -> dict[str, dict]:
    """Measured matmul FLOP/s per dtype (fp32; + bf16 on CUDA): at the training step's own
    GEMM shape and at a large square GEMM."""
    import torch

    dtypes = {"fp32": torch.float32}
    if args.device == "cuda":
        dtypes["bf16"] = torch.bfloat16
    big = 4096 if args.device == "cuda" else 1024
    rates = {}
    for name, dtype in dtypes.items():
        rates[name] = {
            "step_gemm": matmul_rate(
                args.device, dtype, step["tokens"], step["hidden"], step["intermediate"],
                args.repeats,
            ),
            "square": matmul_rate(args.device, dtype, big, big, big, args.repeats),
        }  # fmt: skip

    return rates


def bound_rows(
    device: str, rates: dict, step: dict, enc: dict, prior: dict
) -> tuple[dict, dict, list[dict[str, Any]]]:
    """(training bound, encode bound, table rows): the bounds in work units per second from
    the best measured rate, then each measured arm as a fraction of them."""
    # bounds in work units per second, from the best measured rate: at the step's own GEMM
    # shape, and at a large square GEMM
    train_bound = {
        n: {k: v["best"] / step["flops"] for k, v in r.items()} for n, r in rates.items()
    }
    enc_bound = {
        n: {k: v["best"] / enc["flops_per_sentence"] for k, v in r.items()}
        for n, r in rates.items()
    }

    def row(what: str, per_s: float, unit: str, bound: dict[str, float]) -> dict[str, Any]:
        return {
            "what": what,
            "per_s": per_s,
            "unit": unit,
            "of bound (step-shape GEMM)": per_s / bound["step_gemm"],
            "of bound (square GEMM)": per_s / bound["square"],
        }

    rows = []
    for n in rates:
        rows.append(row(f"bound, {n} GEMM (step shape)", train_bound[n]["step_gemm"], "steps/s",
                        train_bound[n]))  # fmt: skip
        rows.append(row(f"bound, {n} GEMM (step shape)", enc_bound[n]["step_gemm"],
                        "sentences/s", enc_bound[n]))  # fmt: skip
    ref = "bf16" if device == "cuda" else "fp32"
    if "train" in prior:
        for arm, s in prior["train"]["summary"].items():
            dtype = "fp32" if arm == "st" or device != "cuda" else ref
            rows.append(row(f"measured train: {arm} ({dtype})", s["steps_per_s"]["median"],
                            "steps/s", train_bound[dtype]))  # fmt: skip
    if "eval" in prior:
        ev = prior["eval"]
        for arm, s in ev["summary"].items():
            if not s.get("encode_s", {}).get("median"):
                continue
            if arm.startswith("ours"):  # distinct sentences (STS-B dev included)
                n_sent = ev["runs"][arm][0]["unique_sentences_encoded"]
            else:  # ST encodes every pair slot
                n_sent = ev["settings"]["pair_sentences"]
            dtype = "bf16" if s.get("dtype") == "bfloat16" else "fp32"
            rows.append(row(f"measured encode: {arm} ({dtype})", n_sent / s["encode_s"]["median"],
                            "sentences/s", enc_bound[dtype]))  # fmt: skip
    return train_bound, enc_bound, rows


def print_rates(rates: dict, step: dict, enc: dict) -> None:
    """The GEMM rates, and the FLOPs of a training step and of an encoded sentence."""
    from harness import markdown_table

    rate_rows = [
        {
            "dtype": n,
            "GEMM TFLOP/s, step shape (best / median)": (
                f"{r['step_gemm']['best'] / 1e12:.4g} / {r['step_gemm']['median'] / 1e12:.4g}"
            ),
            "GEMM TFLOP/s, square (best / median)": (
                f"{r['square']['best'] / 1e12:.4g} / {r['square']['median'] / 1e12:.4g}"
            ),
        }
        for n, r in rates.items()  # fmt: skip
    ]
    print(markdown_table(rate_rows, list(rate_rows[0])))
    print(
        f"\ntrain step: {step['flops'] / 1e9:.1f} GFLOP (fwd+bwd, batch {step['batch_shape']}); "
        f"encode: {enc['flops_per_sentence'] / 1e6:.1f} MFLOP/sentence "
        f"({enc['sampled']} of {enc['unique_sentences']} sentences)\n"
    )


def main(argv: list[str] | None = None) -> int:
    from harness import (
        add_common_args,
        default_out,
        load_average,
        markdown_table,
        resolve_device,
        start_record,
        write_json_atomic,
    )

    from distilface.data.models import resolve_model
    from distilface.train.student import student_from_teacher_layers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_roofline")
    corpus_default = REPO / "results/data/corpus/wiki1m_for_simcse.txt"
    ap.add_argument("--corpus", type=Path, default=corpus_default)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--eval-sentences", type=int, default=4000, help="0 = all distinct ones")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument(
        "--measured-dir",
        type=Path,
        help="folder of bench_train/bench_eval JSONs (default: where this run writes)",
    )
    args = ap.parse_args(argv)
    args.device = resolve_device(args.device)
    record = start_record(args.device, args.wait_quiet)
    corpus = args.corpus
    if not Path(corpus).is_file():
        corpus = REPO.parent / "shared" / "data" / "corpus" / "wiki1m_for_simcse.head.txt"
    if not Path(corpus).is_file():
        ap.error(f"--corpus {args.corpus}: no such file")

    with tempfile.TemporaryDirectory(prefix="roofline-") as tmp:
        student = student_from_teacher_layers(
            Path(resolve_model(args.model)), (0, 2, 4), Path(tmp) / "student-l3"
        )
        step = train_step_flops(args, student, Path(corpus))
    enc = encode_flops(args)

    rates = gemm_rates(args, step)

    out = default_out(args.out, "bench_roofline", args.device)
    prior = measured(args.device, args.measured_dir or out.parent)
    train_bound, enc_bound, rows = bound_rows(args.device, rates, step, enc, prior)
    table = markdown_table(rows, list(rows[0]))
    print_rates(rates, step, enc)
    print(table)
    write_json_atomic(
        out,
        {
            "benchmark": "roofline",
            "settings": {
                "model": args.model,
                "batch_size": args.batch_size,
                "max_length": args.max_length,
                "eval_sentences": args.eval_sentences,
                "repeats": args.repeats,
                "corpus": str(corpus),
            },  # fmt: skip
            **record,
            "load_average_after": load_average(),
            "train_step": step,
            "encode": enc,
            "matmul_flops_per_s": rates,
            "bounds": {"train_steps_per_s": train_bound, "encode_sentences_per_s": enc_bound},
            "measured_from": {k: v["path"] for k, v in prior.items()},
            "table_md": table,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
