"""Rule report_comparisons: results/tables/comparisons.csv (bootstrap over the per-pair scores)."""

from distilface.core.logs import job_log
from distilface.report.build import build_comparisons

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_comparisons(snakemake.input.tidy, snakemake.params.config, snakemake.output[0])  # noqa: F821
