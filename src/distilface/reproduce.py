"""Run a config's whole experiment in one process, without Snakemake.

For machines that cannot run the workflow (e.g. a lent GPU box with a fixed image and no
Snakemake): it calls exactly the package functions the Snakemake rules call, in DAG order
(data -> students -> teacher caches -> training, parents first -> evaluation), skips outputs
that already exist, and stops *starting* work once ``--deadline-s`` has passed, so what
finished is kept and summarised. Every step is a JSON line in ``<root>/reproduce_log.jsonl``.

    python -m distilface.reproduce --config config/gpu.yaml --deadline-s 420
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from distilface.core.config import validate_config
from distilface.core.logs import setup_logging
from distilface.data.readers import DERIVED_FILES, build_derived
from distilface.evaluate.pooling import POOLINGS
from distilface.train import grid


class Deadline:
    """Wall-clock budget: ``expired()`` once ``seconds`` have passed since construction."""

    def __init__(self, seconds: float | None):
        self.start = time.perf_counter()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def expired(self) -> bool:
        return self.seconds is not None and self.elapsed() > self.seconds


def ordered_runs(config: dict) -> list[grid.Run]:
    """Trained runs, each fine-tune after the run it starts from."""
    runs = [r for r in grid.expand_grid(config) if r.trained]
    return [r for r in runs if not r.init_from] + [r for r in runs if r.init_from]


def evaluated_models(config: dict) -> list[tuple[str, str]]:
    """(model id, encoder path) of every model the workflow scores, as the Snakefile lists them."""
    models = [(m, config["models"][m]["path"]) for m in config["baselines"]["models"]]
    models += [(m, grid.model_dir_for(config, m)) for m in grid.all_model_ids(config)]
    return models


def run_config(
    config: dict,
    sources: dict,
    deadline_s: float | None = None,
    log_path: str | Path = "results/reproduce_log.jsonl",
) -> list[dict[str, Any]]:
    """Materialise, build, train and evaluate everything ``config`` names; return the step log."""
    from distilface.data.download import materialize_output
    from distilface.evaluate.sts import evaluate_model
    from distilface.train.loop import TrainConfig, train
    from distilface.train.student import student_from_teacher_layers
    from distilface.train.teacher_cache import build_teacher_cache

    deadline = Deadline(deadline_s)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    steps: list[dict[str, Any]] = []

    def step(kind: str, name: str, output: Path, fn: Callable[[], object]) -> None:
        record: dict[str, Any] = {"kind": kind, "name": name, "output": str(output)}
        if output.exists():
            record["status"] = "exists"
        elif deadline.expired():
            record["status"] = "skipped: deadline"
        else:
            t0 = time.perf_counter()
            try:
                fn()
                record["status"] = "done"
            except Exception as e:  # recorded, and the run goes on: one bad point != no grid
                record["status"] = f"failed: {type(e).__name__}: {e}"
            record["seconds"] = round(time.perf_counter() - t0, 2)
        record["elapsed_s"] = round(deadline.elapsed(), 1)
        steps.append(record)
        with log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    root = Path(config["data"]["root"])
    mirror = config["data"]["mirror"]
    training = config.get("training") or {}
    derived = {str(root / rel): kind for rel, kind in DERIVED_FILES.items()}
    paths = {str(grid.data_spec(config, r.data)[0]) for r in ordered_runs(config)}
    needed = {"senteval"} | {
        "wiki1m" if "corpus" in p else "nli" for p in paths if p not in derived
    }
    for name in sorted(needed):
        src = sources["sources"][name]
        out = root / src["dest"]
        step("data", name, out, lambda n=name, s=src, o=out: materialize_output(n, s, o, mirror))
    for path in sorted(paths & set(derived)):
        kind = derived[path]
        if not (root / "senteval").is_dir():  # its input failed above
            steps.append({"kind": "data", "name": kind, "status": "skipped: no senteval"})
            continue
        step(
            "data", kind, Path(path), lambda k=kind, o=path: build_derived(k, root / "senteval", o)
        )

    for sid, spec in (training.get("students") or {}).items():
        if "from_layers" in spec:
            out = Path(grid.student_dir(config, sid))
            fl = spec["from_layers"]
            step(
                "student",
                sid,
                out,
                lambda fl=fl, o=out: student_from_teacher_layers(fl["teacher"], fl["layers"], o),
            )

    for teacher, data in grid.teacher_caches(config):
        out = Path(f"{grid.TEACHER_CACHE_ROOT}/{teacher}/{data}.npy")
        path, limit = grid.data_spec(config, data)
        step(
            "teacher_cache",
            f"{teacher}/{data}",
            out,
            lambda t=teacher, p=path, o=out, lim=limit: build_teacher_cache(
                grid.teacher_path(config, t),
                p,
                o,
                max_length=training.get("teacher_max_length", 128),
                batch_size=training.get("teacher_batch_size", 128),
                limit=lim,
                pooling=config["models"][t].get("pooling", "avg"),
            ),
        )

    ev = config["evaluation"]

    def evaluate(model_id: str, path: str) -> None:
        out_dir = Path("results/eval") / model_id
        if str(path).startswith(grid.MODELS_ROOT) and not Path(path).exists():
            steps.append({"kind": "eval", "name": model_id, "status": "skipped: not trained"})
            return  # its training (or student build) did not run before the deadline
        step(
            "eval",
            model_id,
            out_dir / f"{POOLINGS[-1]}.json",
            lambda: evaluate_model(
                model_id,
                path,
                list(POOLINGS),
                root / "senteval",
                out_dir,
                aggregation=ev.get("aggregation", "all"),
                batch_size=ev.get("batch_size", 128),
                max_length=ev.get("max_length", 512),
                cache_dir="results/cache/embeddings",
                device=None if ev.get("device", "auto") == "auto" else ev["device"],
                progress=False,
                precision=ev.get("precision", "auto"),
            ),
        )

    trained = {r.model_id for r in ordered_runs(config)}
    for model_id, path in evaluated_models(config):  # untrained encoders first
        if model_id not in trained:
            evaluate(model_id, path)
    for run in ordered_runs(config):  # then each run, scored as soon as it is trained
        out = Path(grid.model_dir_for(config, run.model_id))
        kwargs = grid.train_config_kwargs(config, run)
        work = Path("results/checkpoints") / run.model_id

        def _train(kw=kwargs, o=out, w=work) -> None:
            train(TrainConfig.from_dict(dict(kw), out_dir=o, work_dir=w, progress=False))

        step("train", run.model_id, out, _train)
        evaluate(run.model_id, str(out))
    return steps


def summary_rows(config: dict) -> list[dict[str, Any]]:
    """One row per evaluated model at its evaluation pooling: the 7 tasks, avg and STS-B dev."""
    from distilface.core.names import STS_TASKS

    rows = []
    for model_id, _ in evaluated_models(config):
        if model_id in config["models"]:
            poolings = config["baselines"]["poolings"]
        else:
            poolings = [grid.run_for(config, model_id).eval_pooling]
        for pooling in poolings:
            path = Path("results/eval") / model_id / f"{pooling}.json"
            if not path.is_file():
                continue
            res = json.loads(path.read_text(encoding="utf-8"))
            if "skipped" in res:
                continue
            agg = res["aggregation"]
            row = {"model": model_id, "pooling": pooling}
            row.update({t: res["tasks"][t]["spearman"][agg] for t in STS_TASKS})
            row["avg"] = res["avg"]["spearman"]
            row["stsb_dev"] = (res.get("stsb_dev") or {}).get("spearman")
            summary = Path(grid.MODELS_ROOT) / model_id / "train_summary.json"
            if summary.is_file():
                s = json.loads(summary.read_text(encoding="utf-8"))
                row["train_seconds"] = s.get("wall_s")
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--sources", default=Path("config/sources.yaml"), type=Path)
    ap.add_argument("--deadline-s", type=float, default=None, help="start no new step after this")
    ap.add_argument("--summary", type=Path, default=Path("results/reproduce_summary.json"))
    args = ap.parse_args(argv)
    setup_logging()
    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    validate_config(config, source=str(args.config))  # a typo is an error, not a dropped run
    sources = yaml.safe_load(args.sources.read_text(encoding="utf-8"))
    steps = run_config(config, sources, args.deadline_s)
    rows = summary_rows(config)
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    args.summary.write_text(json.dumps({"steps": steps, "rows": rows}, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))
    failed = [f"{s['kind']} {s['name']}: {s['status']}" for s in steps if "failed" in s["status"]]
    if failed:
        raise SystemExit("failed steps:\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
