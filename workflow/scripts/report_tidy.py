"""Rule report_tidy: every eval JSON + training log -> results/tables/tidy.csv."""

from distilface.core.logs import job_log
from distilface.report.build import build_tidy

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_tidy(snakemake.input.evals, snakemake.params.logs, snakemake.output[0])  # noqa: F821
