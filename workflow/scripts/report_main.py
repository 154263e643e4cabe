"""Rule report_main: main.{csv,md,tex}."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_main  # noqa: E402

setup(snakemake)  # noqa: F821
build_main(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    snakemake.input.published,  # noqa: F821
    Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
)
