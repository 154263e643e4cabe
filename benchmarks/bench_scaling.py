"""Benchmark: throughput vs batch size and max length, and Snakemake DAG / no-op times.

1. Evaluation encode throughput (:meth:`Encoder.encode`, pooling ``avg``) on the first
   ``--n-sentences`` distinct STS-B test sentences, for each (batch size, max length) cell;
   one untimed warm-up batch, then ``--repeats`` interleaved rounds over all cells (median,
   min-max); the token lengths of the sentences are recorded (STS sentences are short).
2. Training throughput of our unsup-SimCSE loop (:func:`distilface.train.loop.train`, 3-layer
   student, no evaluation, no checkpoints) per (batch size, max length): ``--train-steps``
   timed optimiser steps after one warm-up step.
3. Snakemake: wall time of ``snakemake -n`` on ``config/config.yaml`` in a fresh process (first
   call = cold, second = warm OS caches), and of a real no-op run on ``config/quick.yaml`` when
   a dry run says its outputs are all up to date (otherwise the number of pending jobs is
   recorded instead). Skipped when snakemake is not installed (``--skip-snakemake`` forces it).

Writes ``results/bench/bench_scaling_<device>.json`` and ``bench_scaling_<device>.{png,pdf}``.

    python benchmarks/bench_scaling.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from distilface.core.io import write_with_atomic

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


def encode_grid(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Sentences/s of :meth:`Encoder.encode` per (batch size, max length): ``--repeats``
    rounds, each timing every cell once (interleaved, so a slow phase of the machine hits all
    cells alike); median and min-max per cell."""
    import statistics

    from distilface.data.readers import load_task
    from distilface.evaluate.encoders import Encoder

    pairs = load_task("STSBenchmark", args.senteval_root, "test")
    sentences = list(dict.fromkeys(pairs.sent1 + pairs.sent2))[: args.n_sentences]
    encoder = Encoder.load(args.model, device=args.device)
    tokens = [len(t) for t in encoder.tokenizer(sentences)["input_ids"]]
    encoder.encode(sentences[:32], "avg", 32, 128, progress=False)  # warm-up
    cells = [(b, m) for m in args.max_lengths for b in args.batch_sizes]
    times: dict[tuple[int, int], list[float]] = {c: [] for c in cells}
    for _ in range(args.repeats):
        for batch_size, max_length in cells:
            start = time.perf_counter()
            encoder.encode(sentences, "avg", batch_size, max_length, progress=False)
            if args.device == "cuda":
                import torch

                torch.cuda.synchronize()
            times[(batch_size, max_length)].append(time.perf_counter() - start)
    rows = []
    for (batch_size, max_length), t in times.items():
        median = statistics.median(t)
        rows.append(
            {
                "batch_size": batch_size,
                "max_length": max_length,
                "seconds": median,
                "sentences_per_s": len(sentences) / median,
                "sentences_per_s_min": len(sentences) / max(t),
                "sentences_per_s_max": len(sentences) / min(t),
                "n_sentences": len(sentences),
                "tokens_mean": statistics.mean(tokens),
                "tokens_max": max(tokens),
                "truncated_share": sum(n > max_length for n in tokens) / len(tokens),
            }
        )
        print(
            f"encode bs={batch_size} len={max_length}: {rows[-1]['sentences_per_s']:.1f}/s",
            file=sys.stderr,
        )
    return rows


def train_grid(args: argparse.Namespace, student: Path, corpus: Path) -> list[dict[str, Any]]:
    """Steps/s and sentences/s of our training loop per (batch size, max length)."""
    from distilface.train.loop import train
    from distilface.train.settings import TrainConfig

    rows = []
    for max_length in args.train_max_lengths:
        for batch_size in args.train_batch_sizes:
            stamps: list[float] = []

            def stamp(_step: int, stamps: list[float] = stamps) -> None:
                if args.device == "cuda":
                    import torch

                    torch.cuda.synchronize()
                stamps.append(time.perf_counter())

            with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
                cfg = TrainConfig(
                    objective="simcse_unsup",
                    student=str(student),
                    out_dir=Path(tmp) / "out",
                    data=corpus,
                    senteval_root=None,
                    batch_size=batch_size,
                    max_steps=1 + args.train_steps,
                    max_seq_length=max_length,
                    pooling="avg",
                    log_every=10**6,
                    checkpoint_every=None,
                    device=args.device,
                    progress=False,
                )
                train(cfg, step_callback=stamp)
            timed = stamps[-1] - stamps[0]
            rows.append(
                {
                    "batch_size": batch_size,
                    "max_length": max_length,
                    "steps_per_s": args.train_steps / timed,
                    "sentences_per_s": args.train_steps * batch_size / timed,
                }
            )
            print(
                f"train bs={batch_size} len={max_length}: {rows[-1]['steps_per_s']:.3f} steps/s",
                file=sys.stderr,
            )
    return rows


def _snakemake(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python -m snakemake argv`` in the repo root; wall time, exit code, output tail."""
    cmd = [sys.executable, "-m", "snakemake", *argv]
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    wall = time.perf_counter() - start
    text = done.stdout + done.stderr
    total = re.search(r"^total\s+(\d+)", text, flags=re.MULTILINE)
    return {
        "command": " ".join(["snakemake", *argv]),
        "wall_s": wall,
        "returncode": done.returncode,
        "jobs": int(total.group(1)) if total else 0,
        "nothing_to_do": "Nothing to be done" in text,
        "output_tail": text[-1500:],
    }


def snakemake_times(timeout: float) -> dict[str, Any]:
    """DAG build time of the full config (cold, warm) and the quick config's no-op re-run."""
    full = [_snakemake(["-n", "--cores", "1"], timeout) for _ in range(2)]
    quick_dry = _snakemake(["-n", "--cores", "1", "--configfile", "config/quick.yaml"], timeout)
    result: dict[str, Any] = {
        "full_dry_run_cold": full[0],
        "full_dry_run_warm": full[1],
        "quick_dry_run": quick_dry,
    }
    if quick_dry["returncode"] == 0 and quick_dry["nothing_to_do"]:
        result["quick_noop_run"] = _snakemake(
            ["--cores", "1", "--configfile", "config/quick.yaml"], timeout
        )
    else:
        result["quick_noop_run"] = None
        result["quick_noop_note"] = (
            f"quick config outputs are not all up to date ({quick_dry['jobs']} job(s) pending, "
            f"exit {quick_dry['returncode']}); no-op re-run not measured"
        )
    return result


def plot(enc: list[dict], tr: list[dict], path_stem: Path, title: str) -> list[Path]:
    """Two panels: encode and train sentences/s vs batch size, one line per max length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, rows, name in ((axes[0], enc, "evaluation encode"), (axes[1], tr, "training (ours)")):
        for length in sorted({r["max_length"] for r in rows}):
            pts = sorted(
                (r["batch_size"], r["sentences_per_s"]) for r in rows if r["max_length"] == length
            )
            ax.plot(
                [p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"max_length {length}"
            )
            spread = sorted(
                (r["batch_size"], r.get("sentences_per_s_min"), r.get("sentences_per_s_max"))
                for r in rows
                if r["max_length"] == length and r.get("sentences_per_s_min") is not None
            )
            if spread:  # min-max over the interleaved repeats
                ax.fill_between(
                    [p[0] for p in spread], [p[1] for p in spread], [p[2] for p in spread],
                    alpha=0.15,
                )  # fmt: skip
        ax.set_ylim(bottom=0)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel("sentences / s")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=9)
    written = []
    for ext in ("png", "pdf"):
        out = path_stem.with_suffix(f".{ext}")
        written.append(write_with_atomic(out, lambda tmp: fig.savefig(tmp, dpi=150)))
    plt.close(fig)
    return written


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

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_scaling")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 128])
    ap.add_argument("--max-lengths", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--n-sentences", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3, help="interleaved encode rounds")
    ap.add_argument("--train-batch-sizes", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--train-max-lengths", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=None, help="default: wiki1m head or STS-B")
    ap.add_argument("--skip-snakemake", action="store_true")
    ap.add_argument("--snakemake-timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    args.device = resolve_device(args.device)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_train import default_corpus, prepare_corpus

    record = start_record(args.device, args.wait_quiet)
    machine = record["machine"]
    enc = encode_grid(args)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-prep-") as tmp:
        from distilface.data.models import resolve_model
        from distilface.train.student import student_from_teacher_layers

        student = student_from_teacher_layers(
            resolve_model(args.model), (0, 2, 4), Path(tmp) / "student-l3"
        )
        args.corpus = args.corpus or default_corpus()
        tr = train_grid(args, student, prepare_corpus(args, Path(tmp)))
    snake: dict[str, Any] | None = None
    if args.skip_snakemake or importlib.util.find_spec("snakemake") is None:
        snake = {"skipped": "snakemake not installed" if not args.skip_snakemake else "flag"}
    else:
        snake = snakemake_times(args.snakemake_timeout)
    out = default_out(args.out, "bench_scaling", args.device)
    out.parent.mkdir(parents=True, exist_ok=True)
    title = (
        f"{machine['cpu_model']} ({machine['cores']} cores), {machine['gpu'] or 'no GPU'}, "
        f"device {args.device}, load {machine['load_average'][0]}"
    )
    figures = plot(enc, tr, out.with_suffix(""), title)
    print(markdown_table(enc, ["batch_size", "max_length", "sentences_per_s"]))
    print()
    print(markdown_table(tr, ["batch_size", "max_length", "steps_per_s", "sentences_per_s"]))
    if snake and "skipped" not in snake:
        rows = [
            {"what": k, "wall_s": v["wall_s"], "jobs": v["jobs"], "exit": v["returncode"]}
            for k, v in snake.items()
            if isinstance(v, dict)
        ]
        print()
        print(markdown_table(rows, ["what", "wall_s", "jobs", "exit"]))
        if snake.get("quick_noop_note"):
            print(snake["quick_noop_note"])
    write_json_atomic(
        out,
        {
            "benchmark": "scaling",
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            **record,
            "load_average_after": load_average(),
            "encode": enc,
            "train": tr,
            "snakemake": snake,
            "figures": [str(p) for p in figures],
        },
    )
    print(f"wrote {out} and {', '.join(str(p) for p in figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
