"""Rule report_tidy: every eval JSON + training log -> results/tables/tidy.csv."""

from distilface.logs import setup_logging
from distilface.report.build import build_tidy

setup_logging(snakemake.log[0])  # noqa: F821
build_tidy(snakemake.input.evals, snakemake.params.logs, snakemake.output[0])  # noqa: F821
