"""Benchmark: wall time per rule of a workflow run, from its Snakemake ``benchmark:`` files.

Every rule writes ``results/benchmarks/{rule}/{job}.tsv``; the workflow's ``timings`` rule
gathers them into ``results/tables/timings.csv`` (one row per job). This script reads that CSV
(or, with ``--benchmarks``, the TSV files themselves, e.g. of a run stopped with ``--until``),
prints the per-rule table (jobs, total / median / max seconds, share) and writes a JSON with the
machine and load average. It times nothing itself: run the workflow first, e.g.

    snakemake --cores 2 --configfile config/quick.yaml \\
        --config 'data={"mirror": "../shared/data", "root": "results/data"}'
    python benchmarks/bench_quick.py                       # reads results/tables/timings.csv
    python benchmarks/bench_quick.py --benchmarks results/benchmarks --wall-s 2460
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from harness import default_out, load_average, machine_info, markdown_table, write_json_atomic

from distilface.report.timings import read_benchmarks, rule_summary


def load_jobs(args: argparse.Namespace) -> pd.DataFrame:
    """The per-job table: from ``--benchmarks`` TSVs when given, else ``--timings`` CSV."""
    if args.benchmarks is not None:
        return read_benchmarks(args.benchmarks)
    if not args.timings.is_file():
        raise SystemExit(f"{args.timings}: no such file (run the workflow, or --benchmarks DIR)")
    return pd.read_csv(args.timings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timings", type=Path, default=Path("results/tables/timings.csv"))
    ap.add_argument("--benchmarks", type=Path, help="read results/benchmarks/**.tsv instead")
    ap.add_argument("--wall-s", type=float, help="the run's own wall time, if measured")
    ap.add_argument("--label", default="quick", help="what ran (config name), for the JSON")
    ap.add_argument("--out", type=Path, help="result JSON (default results/bench/...)")
    args = ap.parse_args(argv)
    jobs = load_jobs(args)
    if jobs.empty:
        raise SystemExit("no job timings found")
    summary = rule_summary(jobs)
    rows: list[dict[str, Any]] = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in summary.to_dict("records")
    ]
    table = markdown_table(rows, ["rule", "jobs", "total_s", "median_s", "max_s", "share"])
    print(table)
    if args.wall_s:
        print(f"\nrun wall time {args.wall_s:.0f} s; summed job time {rows[-1]['total_s']:.0f} s")
    out = default_out(args.out, f"bench_{args.label}_rules", "cpu")
    write_json_atomic(
        out,
        {
            "benchmark": "workflow rules",
            "label": args.label,
            "source": str(args.benchmarks or args.timings),
            "run_wall_s": args.wall_s,
            "machine": machine_info("cpu"),
            "load_average_at_read": load_average(),
            "rules": rows,
            "jobs": jobs.to_dict("records"),
            "table_md": table,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
