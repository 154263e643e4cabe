"""Rule report_figures: per_task, training_curves, size_quality (.png + .pdf)."""

from pathlib import Path

from distilface.core.logs import job_log
from distilface.report.build import build_figures

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_figures(
        snakemake.input.tidy,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        Path(snakemake.output.per_task).parent,  # noqa: F821
    )
