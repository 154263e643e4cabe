"""Rule report_seeds: results/tables/seeds.csv (bootstrap over the per-pair scores)."""

from distilface.logs import setup_logging
from distilface.report.build import build_seeds

setup_logging(snakemake.log[0])  # noqa: F821
build_seeds(snakemake.input.tidy, snakemake.config, snakemake.output[0])  # noqa: F821
