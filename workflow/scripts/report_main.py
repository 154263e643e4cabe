"""Rule report_main: main.{csv,md,tex}."""

from pathlib import Path

from distilface.core.logs import job_log
from distilface.report.build import build_main

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_main(
        snakemake.input.tidy,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        snakemake.input.published,  # noqa: F821
        Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
    )
