"""Rule report_efficiency: results/tables/efficiency.csv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_efficiency  # noqa: E402

setup(snakemake)  # noqa: F821
build_efficiency(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    snakemake.output[0],  # noqa: F821
    snakemake.params.models_root,  # noqa: F821
)
