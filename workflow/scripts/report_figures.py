"""Rule report_figures: per_task, training_curves, size_quality (.png + .pdf)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_figures  # noqa: E402

setup(snakemake)  # noqa: F821
build_figures(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    Path(snakemake.output.per_task).parent,  # noqa: F821
)
