"""One DisCo / SimCSE training probe on the CPU: ``TrainConfig`` overrides on the command line,
then the 7-set score of the saved model (avg pooling). What the CPU probes of README "DisCo"
ran (their train logs: results/reference/cpu-disco-probes/).

    python tools/disco_probe.py NAME --student DIR --data CORPUS --teacher-cache NPY \\
        [key=value ...]      # e.g. queue_size=3200 learn_temperature=True temperature=0.05

Defaults: the quick config's CKD (batch 64, lr 2e-4, length 64, 3 epochs, cosine with 10% of
one epoch of warm-up, AdamW beta2 0.98, STS-B dev every 25 steps and at step 0). The student is
``python -c "from distilface.train.student import student_from_teacher_layers as s;
s('bundled:all-MiniLM-L6-v2', [0, 2, 4], 'student')"``; the teacher cache is
``python -m distilface.train.teacher_cache --teacher bundled:all-mpnet-base-v2 --corpus C --out NPY
--max-length 64 --limit 3200``. Results append to ``<out>/results.jsonl``.
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import torch

from distilface.evaluate.sts import evaluate_model
from distilface.train.loop import train
from distilface.train.settings import TrainConfig


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("overrides", nargs="*", help="TrainConfig field=value")
    ap.add_argument("--student", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--teacher-cache")
    ap.add_argument("--senteval-root", default="../shared/data/senteval")
    ap.add_argument("--out", type=Path, default=Path("results/disco-probes"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kw = dict(
        objective="disco_ckd",
        student=args.student,
        data=args.data,
        teacher_cache=args.teacher_cache,
        corpus_limit=3200,
        senteval_root=args.senteval_root,
        pooling="avg",
        temperature=0.05,
        batch_size=64,
        learning_rate=2e-4,
        max_seq_length=64,
        dropout=0.1,
        epochs=3,
        eval_every=25,
        log_every=25,
        checkpoint_every=None,
        progress=False,
        scheduler="cosine",
        warmup_ratio=0.1,
        warmup_of="epoch",
        adam_beta2=0.98,
        eval_at_start=True,
    )
    for item in args.overrides:
        key, _, value = item.partition("=")
        kw[key] = _value(value)
    out = args.out / "runs" / args.name
    t0 = time.perf_counter()
    train(TrainConfig(out_dir=out, work_dir=args.out / "work" / args.name, **kw))
    train_s = time.perf_counter() - t0
    paths = evaluate_model(
        args.name, out, ["avg"], args.senteval_root, args.out / "eval" / args.name, progress=False
    )
    scores = json.loads(Path(paths["avg"]).read_text())
    summary = json.loads((out / "train_summary.json").read_text())
    row = {
        "name": args.name,
        "avg": scores["avg"]["spearman"],
        "tasks": {t: v["spearman"]["all"] for t, v in scores["tasks"].items()},
        "best_step": summary["best_step"],
        "best_stsb_dev": summary["best_stsb_dev"],
        "final_temperature": summary["final_temperature"],
        "queue_masked_entries": summary["queue_masked_entries"],
        "train_s": round(train_s, 1),
        "overrides": args.overrides,
    }
    print(json.dumps(row))
    with (args.out / "results.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
