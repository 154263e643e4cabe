"""Benchmark: unsup-SimCSE training throughput — our loop vs sentence-transformers' recipe.

Same student (the 3-layer MiniLM-layout DistilBERT built by
:func:`distilface.train.student.student_from_teacher_layers` from ``--model`` layers 0,2,4, or
``--student full`` for the 6-layer model itself), same corpus rows, batch size, max length
(truncation at ``--max-length``, dynamic padding in both), optimizer (AdamW, lr 3e-5, betas
0.9/0.999, eps 1e-8, weight decay 0, linear decay, no warm-up, grad-clip 1.0), dropout 0.1,
temperature 0.05 (ST: ``scale=20``), mean pooling in both (ours ``pooling=avg``: no MLP head),
seed; no evaluation and no checkpoints in either (ours: ``senteval_root=None``,
``checkpoint_every=None``; ST: ``eval_strategy="no"``, ``save_strategy="no"``).

- ``ours``: :func:`distilface.train.loop.train`, objective ``simcse_unsup`` (each batch fed twice in
  one forward pass).
- ``st``: ``SentenceTransformerTrainer`` + ``MultipleNegativesRankingLoss`` on (s, s) pairs,
  the sentence-transformers unsup-SimCSE recipe (anchor and positive columns are two forward
  passes). On CUDA it runs twice: ``st_bf16`` (``bf16=True``, autocast, as ours on CUDA) and
  ``st`` (float32).

- ``ours_*``: our loop with one of its throughput switches on (:data:`SWITCH_ARMS`), reported
  as a ratio to the plain ``ours`` of the same run: ``ours_pad8`` (pad to a multiple of 8),
  ``ours_bucket`` (length bucketing over 16-batch windows + pad-to-8), ``ours_compile``
  (``torch.compile``, static shapes: pad to ``--max-length``), and on CUDA only ``ours_fused``
  (fused AdamW), ``ours_cudagraphs`` (``torch.compile(mode="reduce-overhead")``) and
  ``ours_all`` (fused AdamW + compile). ``--arms`` picks a subset.

Achieved TFLOP/s (our arms) = 6 x N x tokens per step x steps/s / 1e12, with N = the
backbone's parameters minus its token / position / type embeddings (the ``6N`` per-token cost
of a forward + backward of the matmuls; attention scores and the loss are left out) and tokens =
the padded tokens the model runs on (2 x batch x padded length for unsup SimCSE, counted on the
loop's own batches). Students: ``l3`` (3 layers of ``--model``), ``full`` (``--model`` itself),
``distilbert`` (random weights of the real ``DistilBertModel``, 6 layers x 768, 66 M params).

Only optimiser steps are timed: a per-step callback stamps ``perf_counter`` (after a CUDA
synchronize), the first ``--warmup-steps`` are dropped, and steps/s = timed steps / time between
the stamps. Model loading, saving and start-up are excluded. Each arm runs in its own process
(peak RSS = its ``VmHWM``), repeats interleaved.

    python benchmarks/bench_train.py --repeats 3 --steps 20 [--student distilbert] [--arms ours,st]
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

TEMPERATURE = 0.05
LEARNING_RATE = 3e-5
#: our loop's throughput switches: arm -> TrainConfig settings on top of the plain ``ours``
SWITCH_ARMS: dict[str, dict[str, Any]] = {
    "ours_pad8": {"pad_to_multiple_of": 8},
    "ours_bucket": {"bucket_window": 16, "pad_to_multiple_of": 8},
    "ours_fused": {"fused_adamw": True},
    "ours_compile": {"torch_compile": "default", "pad_to_max_length": True},
    "ours_cudagraphs": {"torch_compile": "reduce-overhead", "pad_to_max_length": True},
    "ours_all": {"fused_adamw": True, "torch_compile": "default", "pad_to_max_length": True},
}
CUDA_ONLY = ("ours_fused", "ours_cudagraphs", "ours_all", "st_bf16")
ALL_ARMS = ("ours", "st_bf16", "st", *SWITCH_ARMS)


def default_corpus() -> Path:
    """``<repo>/../shared/data/corpus/wiki1m_for_simcse.head.txt``."""
    return (
        Path(__file__).resolve().parents[2]
        / "shared"
        / "data"
        / "corpus"
        / "wiki1m_for_simcse.head.txt"
    )


# ---------------------------------------------------------------------------------------------
# child side


def _sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def arm_ours(
    args: argparse.Namespace, out_dir: Path, switches: dict[str, Any]
) -> tuple[list[float], dict[str, Any]]:
    """Our loop with ``switches``; returns the ``perf_counter`` stamp after every optimiser step
    and the mean padded tokens per timed step (and, compiled, the dynamo graphs compiled during
    the timed steps: 0 in steady state)."""
    from distilface.train import loop

    stamps: list[float] = []
    tokens: list[int] = []  # padded tokens of each batch, in step order
    graphs: list[int] = []

    def stamp(_step: int) -> None:
        _sync(args.device)
        stamps.append(time.perf_counter())
        if switches.get("torch_compile"):
            graphs.append(loop.compiled_graphs())

    make_batch = loop.make_batch

    def counting_make_batch(*a: Any, **k: Any):  # the loop's own batches, their size noted
        batch, target, n = make_batch(*a, **k)
        tokens.append(int(batch["input_ids"].numel()))
        return batch, target, n

    loop.make_batch = counting_make_batch  # this child process only
    cfg = loop.TrainConfig(
        objective="simcse_unsup",
        student=args.student_dir,
        out_dir=out_dir / "ours",
        data=args.corpus,
        senteval_root=None,
        temperature=TEMPERATURE,
        batch_size=args.batch_size,
        learning_rate=LEARNING_RATE,
        max_steps=args.warmup_steps + args.steps,
        max_seq_length=args.max_length,
        dropout=0.1,
        pooling="avg",
        warmup_ratio=0.0,
        weight_decay=0.0,
        grad_clip=1.0,
        log_every=10**6,
        checkpoint_every=None,
        seed=args.seed,
        device=args.device,
        progress=False,
        **switches,
    )
    loop.train(cfg, step_callback=stamp)
    timed = tokens[args.warmup_steps :]
    info: dict[str, Any] = {"tokens_per_step": sum(timed) / len(timed)}
    if graphs:
        info["compiled_graphs"] = graphs[-1]
        info["recompiles_timed"] = graphs[-1] - graphs[args.warmup_steps - 1]
    return stamps, info


def arm_st(args: argparse.Namespace, out_dir: Path, bf16: bool) -> list[float]:
    """sentence-transformers' unsup SimCSE: MNRL on (s, s) pairs with its own Trainer."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from transformers import TrainerCallback

    try:
        from sentence_transformers.sentence_transformer.losses import (
            MultipleNegativesRankingLoss,
        )
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # older layouts
        from sentence_transformers.losses import MultipleNegativesRankingLoss
        from sentence_transformers.models import Pooling, Transformer

    from distilface.data.readers import read_corpus

    torch.manual_seed(args.seed)
    total = args.warmup_steps + args.steps
    sentences = read_corpus(args.corpus)[: total * args.batch_size]
    if len(sentences) < total * args.batch_size:
        raise ValueError(f"{args.corpus}: {len(sentences)} sentences < {total} x batch size")
    transformer = Transformer(str(args.student_dir), max_seq_length=args.max_length)
    # renamed across sentence-transformers versions
    dim_of = getattr(transformer, "get_embedding_dimension", None)
    dim_of = dim_of or transformer.get_word_embedding_dimension
    pooling = Pooling(dim_of(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling], device=args.device)
    data = Dataset.from_dict({"anchor": sentences, "positive": sentences})
    loss = MultipleNegativesRankingLoss(model, scale=1.0 / TEMPERATURE)
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *_a: Any, **_k: Any) -> None:
            _sync(args.device)
            stamps.append(time.perf_counter())

    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(out_dir / "st"),
        per_device_train_batch_size=args.batch_size,
        max_steps=total,
        learning_rate=LEARNING_RATE,
        warmup_steps=0,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        max_grad_norm=1.0,
        optim="adamw_torch",
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        seed=args.seed,
        bf16=bf16,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=10**6,
        report_to=[],
        disable_tqdm=True,
        dataloader_drop_last=True,
        use_cpu=args.device == "cpu",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=data, loss=loss, callbacks=[Stamp()]
    )
    trainer.train()
    return stamps


def run_arm(args: argparse.Namespace) -> None:
    import torch
    from harness import own_peak_rss_mib

    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        if args.arm.startswith("ours"):
            stamps, info = arm_ours(args, Path(tmp), SWITCH_ARMS.get(args.arm, {}))
        else:
            stamps = arm_st(args, Path(tmp), bf16=args.arm == "st_bf16")
    expected = args.warmup_steps + args.steps
    if len(stamps) != expected:
        raise RuntimeError(f"{args.arm}: {len(stamps)} step stamps, expected {expected}")
    timed = stamps[-1] - stamps[args.warmup_steps - 1] if args.warmup_steps else None
    if timed is None:
        raise ValueError("--warmup-steps must be >= 1 (the first step's start is not stamped)")
    out = {
        "arm": args.arm,
        "timed_steps": args.steps,
        "timed_s": timed,
        "steps_per_s": args.steps / timed,
        "sentences_per_s": args.steps * args.batch_size / timed,
        "step_s": [b - a for a, b in zip(stamps, stamps[1:], strict=False)],
        "torch_threads": torch.get_num_threads(),
        "self_peak_rss_mib": own_peak_rss_mib(),
        **info,
    }
    if args.device == "cuda":
        out["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    Path(args.result).write_text(json.dumps(out), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# parent side


def prepare_student(args: argparse.Namespace, tmp: Path) -> Path:
    """The student folder: 3 layers (0,2,4) of ``--model``, or ``--model``'s own transformer."""
    from distilface.data.models import resolve_model, transformer_dir

    model = Path(resolve_model(args.model))
    if args.student == "full":
        return transformer_dir(model)
    if args.student == "distilbert":
        from transformers import DistilBertConfig

        from distilface.train.student import random_student

        return random_student(DistilBertConfig(), tmp / "student-distilbert", model, seed=0)
    from distilface.train.student import student_from_teacher_layers

    return student_from_teacher_layers(model, (0, 2, 4), tmp / "student-l3")


def matmul_params(student: Path) -> dict[str, int]:
    """The student's parameters: all, and without token / position / type embeddings (the N
    of the 6N FLOPs per token)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(student))
    embedding = ("word_embeddings", "position_embeddings", "token_type_embeddings")
    total = sum(p.numel() for p in model.parameters())
    emb = sum(p.numel() for n, p in model.named_parameters() if any(e in n for e in embedding))
    return {"params": total, "params_matmul": total - emb}


def prepare_corpus(args: argparse.Namespace, tmp: Path) -> Path:
    """``--corpus`` if it exists, else the STS-B train sentences (for machines without wiki1m)."""
    if args.corpus is not None and Path(args.corpus).is_file():
        return Path(args.corpus)
    from distilface.data.readers import load_task

    pairs = load_task("STSBenchmark", args.senteval_root, "train")
    sentences = list(dict.fromkeys(pairs.sent1 + pairs.sent2))
    path = tmp / "stsb_train_sentences.txt"
    path.write_text("\n".join(s.replace("\n", " ") for s in sentences) + "\n", encoding="utf-8")
    print(
        f"corpus {args.corpus} not found; using {len(sentences)} STS-B train sentences",
        file=sys.stderr,
    )
    return path


def summarize_arms(runs: dict[str, list[dict]], batch_size: int, params_matmul: int) -> dict:
    """Per arm: steps/s (median / min / max), sentences/s, padded tokens per step, TFLOP/s
    (6 x matmul parameters x tokens per step x steps/s), recompiles, peak memory; and each
    arm's ratio to ``ours``."""
    from harness import summarize

    summary = {}
    for arm, results in runs.items():
        if not results:
            continue
        sps = summarize([x["steps_per_s"] for x in results])
        tokens = [x["tokens_per_step"] for x in results if "tokens_per_step" in x]
        tokens_per_step = sum(tokens) / len(tokens) if tokens else None
        summary[arm] = {
            "steps_per_s": sps,
            "sentences_per_s": sps["median"] * batch_size,
            "tokens_per_step": tokens_per_step,
            "tflops": (
                6 * params_matmul * tokens_per_step * sps["median"] / 1e12
                if tokens_per_step
                else None
            ),
            "recompiles_timed": max(
                (x["recompiles_timed"] for x in results if "recompiles_timed" in x), default=None
            ),  # compiled arms only
            "peak_rss_mib": max(x["peak_rss_mib"] for x in results),
            "gpu_peak_mib": max((x.get("gpu_peak_mib") or 0.0) for x in results) or None,
        }
    base = summary["ours"]["steps_per_s"]["median"]
    for arm in summary:
        summary[arm]["ours_speedup_vs_this"] = base / summary[arm]["steps_per_s"]["median"]
        summary[arm]["ratio_to_ours"] = summary[arm]["steps_per_s"]["median"] / base
    return summary


def table_rows(summary: dict, device: str) -> list[dict[str, Any]]:
    """One printed row per arm."""
    return [
        {
            "arm": arm,
            "dtype": "bf16 autocast" if arm != "st" and device == "cuda" else "float32",
            "steps/s (median)": s["steps_per_s"]["median"],
            "min-max": f"{s['steps_per_s']['min']:.3f}-{s['steps_per_s']['max']:.3f}",
            "x ours": s["ratio_to_ours"],
            "sentences/s": s["sentences_per_s"],
            "tokens/step": s["tokens_per_step"],
            "TFLOP/s": s["tflops"],
            "recompiles": s["recompiles_timed"],
            "peak RSS MiB": s["peak_rss_mib"],
            "GPU MiB": s["gpu_peak_mib"],
        }
        for arm, s in summary.items()
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

    record = start_record(args.device, args.wait_quiet)
    arms = args.arms
    with tempfile.TemporaryDirectory(prefix="bench-train-prep-") as tmp:
        student = prepare_student(args, Path(tmp))
        params = matmul_params(student)
        corpus = prepare_corpus(args, Path(tmp))
        argv = [
            str(Path(__file__).resolve()), "--device", args.device,
            "--student-dir", str(student), "--corpus", str(corpus),
            "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
            "--steps", str(args.steps), "--warmup-steps", str(args.warmup_steps),
            "--seed", str(args.seed), "--model", args.model,
            "--senteval-root", str(args.senteval_root),
        ]  # fmt: skip
        # a failing ST arm (e.g. `datasets` missing for its trainer) is recorded, not fatal
        runs, failed = run_arms(
            arms,
            args.repeats,
            lambda r, arm: [*argv, "--arm", arm],
            lambda res: f"{res['steps_per_s']:7.3f} steps/s {res['peak_rss_mib']:7.0f} MiB",
        )
    summary = summarize_arms(runs, args.batch_size, params["params_matmul"])
    rows = table_rows(summary, args.device)
    table = markdown_table(rows, list(rows[0]))
    print(table)
    ref = "st_bf16" if args.device == "cuda" else "st"
    speedup = summary[ref]["ours_speedup_vs_this"] if ref in summary else None
    if speedup is not None:
        print(f"\nours vs {ref}: {speedup:.2f}x steps/s (CPU target >= 1.2x)")
    elif ref in arms:
        print(f"\n{ref} failed, no comparison: {failed.get(ref, '')[-500:]}")
    out = default_out(args.out, "bench_train", args.device)
    write_json_atomic(
        out,
        {
            "benchmark": "train",
            "settings": {
                "model": args.model,
                "student": args.student,
                **params,
                "arms": arms,
                "switch_arms": {a: SWITCH_ARMS[a] for a in arms if a in SWITCH_ARMS},
                "tflops": "6 x params_matmul x padded tokens per step x steps/s / 1e12",
                "corpus": str(args.corpus),
                "batch_size": args.batch_size,
                "max_length": args.max_length,
                "timed_steps": args.steps,
                "warmup_steps": args.warmup_steps,
                "repeats": args.repeats,
                "seed": args.seed,
                "optimizer": "AdamW lr 3e-5 wd 0 linear decay, clip 1.0",
                "loss": "InfoNCE t=0.05 (ST: MNRL scale 20), mean pooling",
                "memory": "peak RSS (VmHWM) of each arm's own process",
            },
            **record,
            "load_average_after": load_average(),
            "summary": summary,
            "speedup_ours_vs_st": speedup,
            "failed_arms": failed,
            "table_md": table,
            "runs": runs,
        },
    )
    print(f"wrote {out}")
    return 0 if not failed else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from harness import add_common_args, resolve_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_train")
    ap.add_argument("--student", choices=("l3", "full", "distilbert"), default="l3")
    ap.add_argument(
        "--arms",
        help="comma-separated arms (default: all that run on the device; ours always runs)",
    )
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20, help="timed optimiser steps")
    ap.add_argument("--warmup-steps", type=int, default=3, help="untimed first steps (>= 1)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--arm", choices=ALL_ARMS, help=argparse.SUPPRESS)
    ap.add_argument("--student-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.device = resolve_device(args.device)
    if args.repeats < 1 or args.steps < 1 or args.warmup_steps < 1:
        ap.error("--repeats, --steps and --warmup-steps must be >= 1")
    runnable = [a for a in ALL_ARMS if args.device == "cuda" or a not in CUDA_ONLY]
    chosen = args.arms.split(",") if args.arms else runnable
    unknown = sorted(set(chosen) - set(runnable))
    if unknown:
        ap.error(f"--arms {unknown}: not arms on {args.device}; choose from {runnable}")
    args.arms = ["ours", *[a for a in runnable if a in chosen and a != "ours"]]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.arm:
        run_arm(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
