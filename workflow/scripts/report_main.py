"""Rule report_main: main.{csv,md,tex}."""

from pathlib import Path

from distilface.logs import setup_logging
from distilface.report.build import build_main

setup_logging(snakemake.log[0])  # noqa: F821
build_main(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    snakemake.input.published,  # noqa: F821
    Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
)
