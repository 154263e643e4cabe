"""Rule report_tidy: every eval JSON + training log -> results/tables/tidy.csv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_tidy  # noqa: E402

setup(snakemake)  # noqa: F821
build_tidy(snakemake.input.evals, snakemake.params.logs, snakemake.output[0])  # noqa: F821
