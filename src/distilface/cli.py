"""Command line: ``distilface evaluate MODEL`` (also ``python -m distilface evaluate MODEL``).

Scores any encoder (a local folder, a hub name, or ``bundled:<name>``) on the seven STS test
sets with the workflow's own evaluator (:func:`distilface.evaluate.sts.evaluate_model`, SimCSE's
protocol), prints the scores, and writes our eval JSON and/or MTEB result files::

    distilface evaluate bundled:all-MiniLM-L6-v2 --data ../shared/data/senteval \\
        --out results/cli/minilm            # --format json mteb (the default: both)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from distilface import __version__
from distilface.core.logs import plain_progress
from distilface.core.names import EVAL_POOLINGS, STS_TASKS, TASK_LABELS
from distilface.data.models import model_fingerprint
from distilface.evaluate.mteb_export import write_mteb_results

DEFAULT_DATA = "results/data/senteval"
FORMATS = ("json", "mteb")


def default_name(model: str) -> str:
    """MTEB-style ``org/name`` of a model argument: a hub name as is, ``bundled:X`` ->
    ``bundled/X``, a local folder -> ``local/<folder name>``."""
    if model.startswith("bundled:"):
        return "bundled/" + model.split(":", 1)[1]
    if Path(model).exists():
        return "local/" + Path(model).resolve().name
    return model if "/" in model else f"hub/{model}"


def _revision(model: str) -> str:
    """A revision for the MTEB folder: the weights' fingerprint (distilface.data.models)."""
    try:
        return model_fingerprint(model)
    except Exception:  # noqa: BLE001 - the revision is a label; MTEB's own fallback name
        return "no_revision_available"


def score_table(results: dict[str, dict]) -> str:
    """Plain-text table of the scored sets' Spearman x100 and their average (the seven, or the
    ``--tasks`` chosen), STS-B dev last; one row per pooling."""
    scored = next((d for d in results.values() if "skipped" not in d), {})
    tasks = [t for t in STS_TASKS if t in scored.get("tasks", {})]
    header = ["pooling", *(TASK_LABELS[t] for t in tasks), *(["Avg"] if tasks else []), "dev"]
    lines = ["  ".join(f"{h:>8}" for h in header)]
    for pooling, data in results.items():
        if "skipped" in data:
            lines.append(f"{pooling:>8}  skipped: {data['skipped']}")
            continue
        cells = [data["tasks"][t]["spearman"][data["aggregation"]] for t in tasks]
        cells += [data["avg"]["spearman"]] if tasks else []
        cells.append(data["stsb_dev"]["spearman"])
        lines.append("  ".join([f"{pooling:>8}", *(f"{v:8.2f}" for v in cells)]))
    return "\n".join(lines)


#: ``--tasks`` accepts a set's id or its table label (``STSBenchmark`` or ``STS-B``)
TASK_NAMES: dict[str, str] = {**{t: t for t in STS_TASKS}, **{TASK_LABELS[t]: t for t in STS_TASKS}}


def evaluate_command(args: argparse.Namespace) -> int:
    """``distilface evaluate``: score, print, write the requested formats."""
    # lazy: the evaluator loads transformers / sentence-transformers, which `distilface --help`
    # and argument errors do not need
    from distilface.evaluate.sts import evaluate_model

    data = Path(args.data)
    if not data.is_dir():
        print(
            f"error: --data {data}: no SentEval folder (STS/, SICK/); pass the senteval root, "
            "e.g. --data ../shared/data/senteval",
            file=sys.stderr,
        )
        return 2
    plain_progress()  # stderr redirected to a file: rare plain lines, not \r redraws
    if args.quiet:  # also the libraries' own bars (transformers' "Loading weights")
        # lazy: only --quiet needs them
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
    poolings = list(EVAL_POOLINGS) if "all" in args.pooling else args.pooling
    name = args.name or default_name(args.model)
    out = Path(args.out or Path("results/cli") / name.replace("/", "__"))
    json_dir = out if "json" in args.format else out / ".eval"
    tasks = () if args.dev else tuple(TASK_NAMES[t] for t in args.tasks or STS_TASKS)
    written = evaluate_model(
        model_id=name,
        encoder_path=args.model,
        poolings=poolings,
        senteval_root=data,
        out_dir=json_dir,
        tasks=tasks,
        aggregation=args.aggregation,
        batch_size=args.batch_size,
        max_length=args.max_length,
        device=args.device,
        progress=not args.quiet,
    )
    results = {p: json.loads(Path(path).read_text()) for p, path in written.items()}
    print(f"{name}: Spearman x100, '{args.aggregation}' aggregation, data {data}")
    print(score_table(results))
    if "json" in args.format:
        print(f"eval JSON: {', '.join(str(p) for p in written.values())}")
    if "mteb" in args.format and len(tasks) < len(STS_TASKS):
        print("MTEB results: only for all seven sets (no --tasks / --dev)")
    elif "mteb" in args.format:
        revision = _revision(args.model)
        for pooling, path in written.items():
            if "skipped" in results[pooling]:
                continue
            model = name if len(poolings) == 1 else f"{name}-{pooling}"
            files = write_mteb_results(path, out / "mteb", model, revision)
            print(f"MTEB results ({pooling}): {files[0].parent}")
    return 0


def _eval_json(path: str, pooling: str) -> Path:
    """An eval JSON given as itself or as its model's eval folder (+ ``pooling``)."""
    given = Path(path)
    return given / f"{pooling}.json" if given.is_dir() else given


def compare_command(args: argparse.Namespace) -> int:
    """``distilface compare A B``: per-task and average Δ = A - B with paired-bootstrap CIs
    (the report's own statistics, resampling the pairs both models scored)."""
    from distilface.report import stats  # lazy: pandas and scipy, not needed by --help

    a, b = (_eval_json(x, args.pooling) for x in (args.a, args.b))
    runs = []
    for path in (a, b):
        if not path.is_file():
            print(f"error: {path}: no eval JSON (give a JSON or a results/eval/<model> folder)",
                  file=sys.stderr)  # fmt: skip
            return 2
        runs.append(stats.load_pair_scores(path))
    for task in STS_TASKS:
        if not np.array_equal(runs[0][task].gold, runs[1][task].gold):
            print(f"error: {a} and {b} scored different {task} pairs", file=sys.stderr)
            return 2
    settings = (args.n_bootstrap, args.seed, args.aggregation, args.level)
    rows = [(TASK_LABELS[t], stats.paired_bootstrap([runs[0]], [runs[1]], *settings, tasks=(t,)))
            for t in STS_TASKS]  # fmt: skip
    rows.append(("Avg", stats.paired_bootstrap([runs[0]], [runs[1]], *settings)))
    floor = 2 / (args.n_bootstrap + 1)
    print(f"A = {a}\nB = {b}\nΔ = A - B, Spearman x100; {args.level:.0%} paired-bootstrap CI "
          f"over the pairs ({args.n_bootstrap} resamples, seed {args.seed})")  # fmt: skip
    print(f"{'task':>8}  {'Δ':>7}  {'CI':>17}  {'p':>7}")
    for name, r in rows:
        p = f"< {floor:.3f}" if r["p_value"] <= floor else f"{r['p_value']:.3f}"
        ci = f"{r['ci_low']:+.2f} to {r['ci_high']:+.2f}"
        print(f"{name:>8}  {r['delta']:+7.2f}  {ci:>17}  {p:>7}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``distilface`` parser: ``evaluate`` and ``compare``."""
    parser = argparse.ArgumentParser(prog="distilface", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_evaluate(sub)
    cmp = sub.add_parser(
        "compare",
        help="per-task Δ of two evaluated models with paired-bootstrap CIs",
        description="Δ = A - B on each STS test set and on the average, with a percentile CI "
        "and p from a paired bootstrap over the pairs (the report's statistics).",
    )
    cmp.add_argument("a", help="eval JSON, or a results/eval/<model> folder (with --pooling)")
    cmp.add_argument("b", help="the same for the model compared against")
    cmp.add_argument("--pooling", default="avg", help="(default: %(default)s)")
    cmp.add_argument("--n-bootstrap", type=int, default=1000, help="(default: %(default)s)")
    cmp.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    cmp.add_argument("--level", type=float, default=0.95, help="(default: %(default)s)")
    cmp.add_argument("--aggregation", choices=("all", "wmean"), default="all")
    cmp.set_defaults(func=compare_command)
    return parser


def _add_evaluate(sub) -> None:
    """The ``evaluate`` subcommand's arguments."""
    ev = sub.add_parser(
        "evaluate",
        help="score a model on the seven STS test sets (SimCSE's protocol)",
        description="Score MODEL (local folder, hub name or bundled:<name>) on STS12-16, "
        "STS-B and SICK-R with cosine similarity and Spearman's correlation x100.",
    )
    ev.add_argument("model", nargs="?", help="local folder, hub name, or bundled:all-MiniLM-L6-v2")
    ev.add_argument(
        "--pooling",
        nargs="+",
        default=["avg"],
        metavar="POOLING",
        help=f"pooling(s): {', '.join(POOLING_CHOICES)} (default avg, the sentence-transformers "
        "mean pooling; all = the five); before or after MODEL",
    )
    ev.add_argument(
        "--data",
        default=os.environ.get("DISTILFACE_SENTEVAL", DEFAULT_DATA),
        help=f"SentEval root with STS/ and SICK/ (default $DISTILFACE_SENTEVAL or {DEFAULT_DATA})",
    )
    ev.add_argument("--out", help="output folder (default results/cli/<name>)")
    ev.add_argument(
        "--format",
        nargs="+",
        default=list(FORMATS),
        choices=FORMATS,
        help="json = our eval JSON + per-pair scores; mteb = MTEB result files (default both)",
    )
    ev.add_argument("--name", help="model name in the outputs (default derived from MODEL)")
    ev.add_argument(
        "--aggregation",
        choices=("all", "wmean"),
        default="all",
        help="SimCSE's 'all' (pairs pooled per year) or SentEval's weighted mean of subsets "
        "(default: %(default)s)",
    )
    ev.add_argument("--batch-size", type=int, default=128, help="(default: %(default)s)")
    ev.add_argument(
        "--max-length", type=int, default=512, help="tokens per sentence (default: %(default)s)"
    )
    ev.add_argument(
        "--device", choices=("cpu", "cuda"), default=None, help="(default: cuda when available)"
    )
    ev.add_argument(
        "--tasks",
        nargs="+",
        choices=list(TASK_NAMES),
        metavar="TASK",
        help="score only these test sets (ids or labels: STS12 ... STS16, STS-B, SICK-R); "
        "Avg is then their mean (default: the seven)",
    )
    ev.add_argument(
        "--dev",
        action="store_true",
        help="STS-B dev only, no test set read (SimCSE's --mode dev: for choosing a model)",
    )
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=evaluate_command)


POOLING_CHOICES: tuple[str, ...] = (*EVAL_POOLINGS, "all")


def _model_and_poolings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``evaluate --pooling avg MODEL``: ``--pooling`` takes every word after it, so a MODEL
    written after it arrives as its last value; take it back. Then check the poolings (not
    by argparse's ``choices``, which would call the model an invalid pooling)."""
    if args.command != "evaluate":
        return
    if args.model is None and args.pooling and args.pooling[-1] not in POOLING_CHOICES:
        args.model = args.pooling.pop()
    if args.model is None:
        parser.error("evaluate: the following arguments are required: model")
    if args.dev and args.tasks:
        parser.error("evaluate: --dev scores STS-B dev only; drop --tasks (or --dev)")
    bad = [p for p in args.pooling if p not in POOLING_CHOICES]
    if bad or not args.pooling:
        parser.error(
            f"evaluate: argument --pooling: invalid choice {bad[0] if bad else None!r} "
            f"(choose from {', '.join(POOLING_CHOICES)})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``distilface`` script."""
    logging.basicConfig(level=logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    _model_and_poolings(parser, args)
    try:
        return int(args.func(args))
    except USER_ERRORS as err:  # a fault of the input: one line, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that name the user's input (model, data, device, output folder)."""
    # lazy: keeps `distilface --help` light
    from distilface.core.devices import GpuUnavailableError
    from distilface.data.models import ModelResolutionError
    from distilface.data.readers import DataFormatError

    return (GpuUnavailableError, ModelResolutionError, DataFormatError, PermissionError)


USER_ERRORS = _user_errors()


if __name__ == "__main__":
    raise SystemExit(main())
