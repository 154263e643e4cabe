"""Rule report_figures: per_task, training_curves, size_quality (.png + .pdf)."""

from pathlib import Path

from distilface.logs import setup_logging
from distilface.report.build import build_figures

setup_logging(snakemake.log[0])  # noqa: F821
build_figures(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    Path(snakemake.output.per_task).parent,  # noqa: F821
)
