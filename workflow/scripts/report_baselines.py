"""Rule report_baselines: baselines.{csv,md}."""

from pathlib import Path

from distilface.logs import setup_logging
from distilface.report.build import build_baselines

setup_logging(snakemake.log[0])  # noqa: F821
build_baselines(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
)
