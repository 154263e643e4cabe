"""Run a config's whole experiment in one process, without Snakemake.

For machines that cannot run the workflow (e.g. a lent GPU box with a fixed image and no
Snakemake): it validates the config against ``config/schema.yaml`` and fills its defaults as
the Snakefile does, plans the jobs the rules would run from the same helpers the rules use
(:mod:`distilface.plan.grid` for the job list, :mod:`distilface.core.paths` for every path),
and runs them in DAG order (data -> students -> teacher caches -> training, parents first ->
evaluation) with the package functions the rules' scripts call. It skips outputs that already
exist and stops *starting* work once ``--deadline-s`` has passed, so what finished is kept and
summarised. Every step is a JSON line in ``results/reproduce_log.jsonl``.

    python -m distilface.reproduce --config config/gpu.yaml --deadline-s 420
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from distilface.core import paths
from distilface.core.config import SCHEMA_PATH, load_config_file, validate_config, with_defaults
from distilface.core.io import write_json_atomic
from distilface.core.logs import setup_logging
from distilface.core.names import EVAL_POOLINGS, STS_TASKS
from distilface.data.download import materialize_output, resolve_mirror
from distilface.data.readers import DERIVED_FILES, build_derived
from distilface.plan import grid


class Deadline:
    """Wall-clock budget: ``expired()`` once ``seconds`` have passed since construction."""

    def __init__(self, seconds: float | None):
        self.start = time.perf_counter()
        self.seconds = seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def expired(self) -> bool:
        return self.seconds is not None and self.elapsed() > self.seconds


@dataclass
class Step:
    """One job of the plan: the rule it stands for (``kind``), its output, and how to run it.

    ``needs``: a path that must exist when the step's turn comes (an earlier step builds it);
    when it does not, the step is recorded as ``skipped: {why}`` without running."""

    kind: str  # data | student | teacher_cache | train | eval
    name: str
    output: str
    run: Callable[[], object]
    needs: str | None = None
    why: str = ""


def prepare_config(config: dict, source: str = "config") -> dict:
    """``config`` validated against config/schema.yaml (a typo is an error, not a dropped run),
    with the schema's defaults filled in as the Snakefile's ``validate`` fills them."""
    validate_config(config, source=source)
    return with_defaults(config)


def ordered_runs(config: dict) -> list[grid.Run]:
    """Trained runs, each fine-tune after the run it starts from."""
    runs = [r for r in grid.expand_grid(config) if r.trained]
    return [r for r in runs if not r.init_from] + [r for r in runs if r.init_from]


def evaluated_models(config: dict) -> list[tuple[str, str]]:
    """(model id, encoder path) of every model the workflow scores, as the rules list them."""
    return [(m, grid.encoder_path(config, m)) for m in grid.evaluated_model_ids(config)]


# The jobs' bodies: the package functions the rules' scripts call. Each imports torch only
# when it runs, so planning (and its test against Snakemake's dry-run) stays light.


def _build_student(spec: dict, out: str) -> None:
    from distilface.train.student import build_student  # torch

    build_student(spec, out)


def _build_teacher_cache(teacher: str, corpus: str, out: str, **kwargs: Any) -> None:
    from distilface.train.teacher_cache import build_teacher_cache  # torch

    build_teacher_cache(teacher, corpus, out, **kwargs)


def _train(kwargs: dict, out: str, work: str) -> None:
    from distilface.train.loop import train  # torch
    from distilface.train.settings import TrainConfig

    train(TrainConfig.from_dict(dict(kwargs), out_dir=out, work_dir=work, progress=False))


def _evaluate(model_id: str, encoder: str, senteval: str, settings: dict, cache_dir: str) -> None:
    from distilface.evaluate.sts import EvalSettings, evaluate_model  # torch

    evaluate_model(
        model_id,
        encoder,
        list(EVAL_POOLINGS),
        senteval,
        paths.eval_dir(model_id),
        settings=EvalSettings.from_config(settings, cache_dir=cache_dir, progress=False),
    )


def data_steps(config: dict, sources: dict) -> list[Step]:
    """The data rules the plan needs: senteval (always: every evaluation reads it), each
    source whose file a run trains on, and each derived file a run trains on."""
    root = config["data"]["root"]
    mirror = resolve_mirror(config["data"].get("mirror"))
    used = {grid.data_spec(config, r.data)[0] for r in ordered_runs(config)}
    names = ["senteval"] + [n for n in paths.DATA_FILES if paths.data_file(root, n) in used]
    steps = []
    for name in sorted(set(names)):
        out, src = paths.data_file(root, name), sources["sources"][name]
        steps.append(Step("data", name, out, partial(materialize_output, name, src, out, mirror)))
    senteval = paths.data_file(root, "senteval")
    for rel, kind in sorted(DERIVED_FILES.items()):
        out = paths.data_file(root, rel)
        if out in used:
            fn = partial(build_derived, kind, senteval, out)
            steps.append(Step("data", kind, out, fn, needs=senteval, why="no senteval"))
    return steps


def student_steps(config: dict) -> list[Step]:
    """Rule ``student_init``: each ``training.students`` entry the workflow builds."""
    steps = []
    for sid, spec in ((config.get("training") or {}).get("students") or {}).items():
        if grid.student_kind(config, sid) is not None:
            out = grid.student_dir(config, sid)
            fn = partial(_build_student, spec, out)
            steps.append(Step("student", sid, out, fn))
    return steps


def teacher_cache_steps(config: dict) -> list[Step]:
    """Rule ``teacher_cache``: one per (teacher, corpus) a DisCo run reads."""
    training = config["training"]
    steps = []
    for teacher, data in grid.teacher_caches(config):
        out = paths.teacher_cache(teacher, data)
        path, limit = grid.data_spec(config, data)
        kwargs = {
            "max_length": training["teacher_max_length"],
            "batch_size": training["teacher_batch_size"],
            "limit": limit,
            "pooling": config["models"][teacher].get("pooling", "avg"),
        }
        fn = partial(_build_teacher_cache, grid.teacher_path(config, teacher), path, out, **kwargs)
        steps.append(Step("teacher_cache", f"{teacher}/{data}", out, fn))
    return steps


def eval_step(config: dict, model_id: str, encoder: str) -> Step:
    """Rule ``evaluate``: every pooling in one pass (the last pooling's JSON marks it done)."""
    senteval = paths.data_file(config["data"]["root"], "senteval")
    cache = grid.eval_cache_dir(config, model_id)
    run = partial(_evaluate, model_id, encoder, senteval, config["evaluation"], cache)
    built = encoder.startswith(f"{paths.MODELS_ROOT}/")  # a folder an earlier step builds
    output = paths.eval_json(model_id, EVAL_POOLINGS[-1])
    return Step("eval", model_id, output, run, needs=encoder if built else None, why="not trained")


def model_steps(config: dict) -> list[Step]:
    """Untrained encoders scored first; then each run trained, parents first, and scored as
    soon as it is trained."""
    trained = {r.model_id for r in ordered_runs(config)}
    steps = [eval_step(config, m, enc) for m, enc in evaluated_models(config) if m not in trained]
    for run in ordered_runs(config):
        out = grid.model_dir_for(config, run.model_id)
        kwargs = grid.train_config_kwargs(config, run)
        fn = partial(_train, kwargs, out, paths.checkpoint_dir(run.model_id))
        steps += [Step("train", run.model_id, out, fn), eval_step(config, run.model_id, out)]
    return steps


def plan(config: dict, sources: dict) -> list[Step]:
    """Every job of ``config`` (prepared by :func:`prepare_config`), in DAG order."""
    return [
        *data_steps(config, sources),
        *student_steps(config),
        *teacher_cache_steps(config),
        *model_steps(config),
    ]


def run_step(step: Step, deadline: Deadline) -> dict[str, Any]:
    """Run one step unless its output exists, its input is missing or the deadline passed."""
    if step.needs is not None and not Path(step.needs).exists():
        return {"kind": step.kind, "name": step.name, "status": f"skipped: {step.why}"}
    record: dict[str, Any] = {"kind": step.kind, "name": step.name, "output": step.output}
    if Path(step.output).exists():
        record["status"] = "exists"
    elif deadline.expired():
        record["status"] = "skipped: deadline"
    else:
        t0 = time.perf_counter()
        try:
            step.run()
            record["status"] = "done"
        except Exception as e:  # recorded, and the run goes on: one bad point != no grid
            record["status"] = f"failed: {type(e).__name__}: {e}"
        record["seconds"] = round(time.perf_counter() - t0, 2)
    record["elapsed_s"] = round(deadline.elapsed(), 1)
    return record


def run_config(
    config: dict,
    sources: dict,
    deadline_s: float | None = None,
    log_path: str | Path = paths.REPRODUCE_LOG,
) -> list[dict[str, Any]]:
    """Materialise, build, train and evaluate everything ``config`` (prepared by
    :func:`prepare_config`) names; return the step log (a step with an output is also
    appended to ``log_path`` as it finishes)."""
    deadline = Deadline(deadline_s)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for step in plan(config, sources):
        record = run_step(step, deadline)
        records.append(record)
        if "output" in record:
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
    return records


def summary_rows(config: dict) -> list[dict[str, Any]]:
    """One row per evaluated model at its evaluation pooling: the 7 tasks, avg and STS-B dev."""
    rows = []
    for model_id, _ in evaluated_models(config):
        if model_id in config["models"]:
            poolings = config["baselines"]["poolings"]
        else:
            poolings = [grid.run_for(config, model_id).eval_pooling]
        for pooling in poolings:
            path = Path(paths.eval_json(model_id, pooling))
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
            summary = Path(paths.train_summary(model_id))
            if summary.is_file():
                s = json.loads(summary.read_text(encoding="utf-8"))
                row["train_seconds"] = s.get("wall_s")
            rows.append(row)
    return rows


def sources_path(given: Path | None, config: dict) -> Path:
    """``--sources``, else the config's ``sources_file``, else the repository's
    ``config/sources.yaml`` next to ``config/schema.yaml`` (as the Snakefile does): a run
    started outside the repository finds it too. A path that does not exist is named."""
    path = given or Path(config.get("sources_file") or SCHEMA_PATH.with_name("sources.yaml"))
    if not path.is_file():
        raise SystemExit(f"error: data sources file {path} not found; pass --sources FILE")
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument(
        "--sources",
        type=Path,
        default=None,
        help="data sources (URLs + sha256); default: the config's sources_file, else the "
        "repository's config/sources.yaml (found from the package, from any folder)",
    )
    ap.add_argument("--deadline-s", type=float, default=None, help="start no new step after this")
    ap.add_argument("--summary", type=Path, default=Path(paths.REPRODUCE_SUMMARY))
    args = ap.parse_args(argv)
    setup_logging()
    raw = load_config_file(args.config)
    config = prepare_config(raw, source=str(args.config))
    sources = yaml.safe_load(sources_path(args.sources, config).read_text(encoding="utf-8"))
    steps = run_config(config, sources, args.deadline_s)
    rows = summary_rows(config)
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.summary, {"steps": steps, "rows": rows})
    for row in rows:
        print(json.dumps(row))
    failed = [f"{s['kind']} {s['name']}: {s['status']}" for s in steps if "failed" in s["status"]]
    if failed:
        raise SystemExit("failed steps:\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
