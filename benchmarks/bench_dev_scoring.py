"""Benchmark: one in-training STS-B dev scoring, file order against the loop's ``DevSet``.

The training loop scores STS-B dev (1,500 pairs) every ``eval_every`` steps and keeps the best
weights; in the quick config that is ~90 scorings, a third of the training jobs' time before
``DevSet``. Arms, in one process, repeats interleaved (the model never changes, so every
scoring is the same work):

- ``file_order``: the loop as it was until 2026-11 — each side embedded separately, batches of
  ``--batch-size`` in file order, tokenised on every scoring (reference copy below);
- ``dev_set``: :class:`distilface.train.devset.DevSet` — the 2,909 distinct sentences tokenised
  once (``prepare_s``, paid once per run) and batched longest first.

Both must give the same Spearman to 1e-9 or the script exits 1. Example:

    python benchmarks/bench_dev_scoring.py --model results/models/students/minilm-l3
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import torch
from harness import (
    add_common_args,
    default_out,
    load_average,
    markdown_table,
    resolve_device,
    start_record,
    summarize,
    write_json_atomic,
)

from distilface.data.readers import load_task
from distilface.evaluate.scoring import correlations, cosine_scores
from distilface.train.devset import DevSet, stsb_dev_spearman
from distilface.train.model import SentenceModel, load_backbone


@torch.no_grad()
def file_order_spearman(model: SentenceModel, tokenizer: Any, dev: Any, batch_size: int,
                        max_length: int, device: torch.device) -> float:  # fmt: skip
    """The reference: both sides embedded in file order, tokenised per batch."""
    model.eval()

    def embed(sentences: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(sentences), batch_size):
            texts = sentences[start : start + batch_size]
            enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt")  # fmt: skip
            out.append(model({k: v.to(device) for k, v in enc.items()}, head=False).cpu().numpy())
        return np.concatenate(out)

    e1, e2 = embed(list(dev.sent1)), embed(list(dev.sent2))
    return correlations(cosine_scores(e1, e2), np.asarray(dev.gold))[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "bench_dev_scoring")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)  # TrainConfig.eval_batch_size
    ap.add_argument("--max-length", type=int, default=512)  # TrainConfig.eval_max_length
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(resolve_device(args.device))
    record = start_record(device.type, args.wait_quiet)
    dev = load_task("STSBenchmark", args.senteval_root, split="dev")
    backbone, tokenizer = load_backbone(args.model, 0.1)
    model = SentenceModel(backbone, "avg").to(device)

    t = time.perf_counter()
    dev_set = DevSet(dev, tokenizer, args.batch_size, args.max_length, device)
    prepare_s = time.perf_counter() - t
    times: dict[str, list[float]] = {"file_order": [], "dev_set": []}
    scores: dict[str, float] = {}
    for _ in range(args.repeats):
        for arm in times:
            t = time.perf_counter()
            if arm == "file_order":
                score = file_order_spearman(
                    model, tokenizer, dev, args.batch_size, args.max_length, device
                )
            else:
                score = stsb_dev_spearman(model, dev_set)
            times[arm].append(time.perf_counter() - t)
            scores[arm] = score
    ratio = summarize(times["file_order"])["median"] / summarize(times["dev_set"])["median"]
    rows = [
        {
            "arm": arm,
            **{k: v for k, v in summarize(ts).items() if k != "n"},
            "spearman": scores[arm],
            "speedup": ratio if arm == "dev_set" else 1.0,
        }  # fmt: skip
        for arm, ts in times.items()
    ]
    print(markdown_table(rows, ["arm", "median", "min", "max", "spearman", "speedup"]))
    print(f"dev_set preparation (once per run): {prepare_s:.2f} s; "
          f"{dev_set.n_unique} distinct sentences of {2 * len(dev.sent1)}")  # fmt: skip
    record.update(
        settings=vars(args) | {"senteval_root": str(args.senteval_root), "out": str(args.out)},
        torch_threads=torch.get_num_threads(),
        prepare_s=prepare_s,
        n_unique=dev_set.n_unique,
        runs=times,
        rows=rows,
        load_average_after=load_average(),
    )
    out = default_out(args.out, "bench_dev_scoring", device.type)
    write_json_atomic(out, record)
    print(f"wrote {out}", file=sys.stderr)
    if abs(scores["file_order"] - scores["dev_set"]) > 1e-9:
        print(f"Spearman differs: {scores}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
