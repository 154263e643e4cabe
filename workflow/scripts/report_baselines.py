"""Rule report_baselines: baselines.{csv,md}."""

from pathlib import Path

from distilface.core.logs import job_log
from distilface.report.build import build_baselines

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_baselines(
        snakemake.input.tidy,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
    )
