"""Rule report_comparisons: results/tables/comparisons.csv (bootstrap over the per-pair scores)."""

from distilface.logs import setup_logging
from distilface.report.build import build_comparisons

setup_logging(snakemake.log[0])  # noqa: F821
build_comparisons(snakemake.input.tidy, snakemake.config, snakemake.output[0])  # noqa: F821
