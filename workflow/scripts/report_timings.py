"""Rule timings: every job's Snakemake benchmark file -> results/tables/timings.{csv,md,html}."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.report.timings import write_timings

with job_log(snakemake.log[0], rule=snakemake.rule):
    write_timings(
        snakemake.params.root, snakemake.output.csv, snakemake.output.md, snakemake.output.html
    )
