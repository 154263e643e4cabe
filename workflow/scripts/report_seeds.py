"""Rule report_seeds: results/tables/seeds.csv (bootstrap over the per-pair scores)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_seeds  # noqa: E402

setup(snakemake)  # noqa: F821
build_seeds(snakemake.input.tidy, snakemake.config, snakemake.output[0])  # noqa: F821
