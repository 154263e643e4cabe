"""Where a workflow run's time goes: Snakemake's per-job ``benchmark:`` files as one table.

Every rule of the workflow writes ``results/benchmarks/{rule}/{job}.tsv`` (Snakemake's
``benchmark:`` directive: wall seconds ``s``, peak RSS ``max_rss`` in MB, ``cpu_time``...).
:func:`read_benchmarks` gathers them (one row per job, the latest run of each),
:func:`rule_summary` sums them per rule; rule ``timings`` writes both to
``results/tables/timings.{csv,md,html}`` and ``benchmarks/bench_quick.py`` prints the summary.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from distilface.core import paths
from distilface.core.io import write_text_atomic

#: Columns of the per-job table (``timings.csv``).
JOB_COLUMNS: tuple[str, ...] = ("rule", "job", "wall_s", "cpu_s", "max_rss_mib", "mean_load")


def read_benchmarks(root: str | Path = paths.JOB_TIMES_ROOT) -> pd.DataFrame:
    """One row per benchmark file under ``root``: rule (first folder), job (the rest of the
    path, without ``.tsv``), wall and CPU seconds, peak RSS (MiB), mean load; sorted by rule
    and job. A file without the ``s`` column is an error naming it."""
    rows = []
    for path in sorted(Path(root).rglob("*.tsv")):
        rel = path.relative_to(root).with_suffix("")
        frame = pd.read_csv(path, sep="\t")
        if "s" not in frame.columns or frame.empty:
            raise ValueError(f"{path}: not a Snakemake benchmark file (no column 's')")
        last = frame.iloc[-1]  # a `benchmark: repeat(...)` file has one line per repeat

        def num(col: str, row: pd.Series = last) -> float:
            return float(pd.to_numeric(row.get(col), errors="coerce"))

        rows.append(
            {
                "rule": rel.parts[0],
                "job": "/".join(rel.parts[1:]),
                "wall_s": num("s"),
                "cpu_s": num("cpu_time"),
                "max_rss_mib": num("max_rss") * 1e6 / 2**20,  # Snakemake writes MB
                "mean_load": num("mean_load"),
            }
        )
    return pd.DataFrame(rows, columns=list(JOB_COLUMNS))


def rule_summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, total / median / max wall seconds and share of the total, slowest
    first, then a ``total`` row (jobs run in parallel, so the total is job time, not wall
    time of the run when more than one core was used)."""
    grouped = jobs.groupby("rule")["wall_s"]
    table = pd.DataFrame(
        {
            "jobs": grouped.size(),
            "total_s": grouped.sum(),
            "median_s": grouped.median(),
            "max_s": grouped.max(),
        }
    ).sort_values("total_s", ascending=False)
    total = float(table["total_s"].sum())
    table["share"] = table["total_s"] / total if total else float("nan")
    table = table.reset_index()
    summary_row = {"rule": "total", "jobs": int(table["jobs"].sum()), "total_s": total}
    return pd.concat([table, pd.DataFrame([summary_row])], ignore_index=True)


def write_timings(
    root: str | Path, csv_path: str | Path, md_path: str | Path, html_path: str | Path
) -> pd.DataFrame:
    """Per-job table to ``csv_path`` (unrounded); the per-rule summary to ``md_path`` and
    ``html_path`` (seconds to 1 decimal, share in %). Returns the summary."""
    jobs = read_benchmarks(root)
    summary = rule_summary(jobs)
    write_text_atomic(csv_path, jobs.to_csv(index=False))
    shown = summary.copy()
    shown["share"] = [f"{100 * v:.1f}%" if pd.notna(v) else "" for v in shown["share"]]
    for col in ("total_s", "median_s", "max_s"):
        shown[col] = [f"{v:.1f}" if pd.notna(v) else "" for v in shown[col]]
    write_text_atomic(md_path, shown.to_markdown(index=False, disable_numparse=True) + "\n")
    write_text_atomic(html_path, shown.to_html(index=False, border=0) + "\n")
    return summary
