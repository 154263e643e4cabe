"""Snakemake script: run benchmarks/bench_<name>.py with the rule's options, output and log."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

import contextlib
import importlib.util
import json
import sys
from pathlib import Path

from distilface.core.logs import error_record, plain_progress

name = snakemake.wildcards.bench_name
path = Path("benchmarks") / f"bench_{name}.py"  # the workflow runs in the repository root
if not path.is_file():
    raise FileNotFoundError(f"{path.resolve()}: benchmark script missing (run from the repo root)")
sys.path.insert(0, str(path.parent.resolve()))  # bench_scaling imports bench_train
spec = importlib.util.spec_from_file_location(f"bench_{name}", path.resolve())
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
argv = [*snakemake.params.argv, "--out", str(snakemake.output[0])]
Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
with (
    open(snakemake.log[0], "w", encoding="utf-8") as log,
    contextlib.redirect_stdout(log),
    contextlib.redirect_stderr(log),
):
    plain_progress(stream=log)
    try:
        code = module.main(argv)
        if code:
            raise SystemExit(f"{path} exited with {code}; see {snakemake.log[0]}")
    except BaseException as exc:  # the job's log holds its error (one JSON line)
        log.write(json.dumps({"message": "job failed", "rule": "bench_one", **error_record(exc)}))
        log.write("\n")
        raise
