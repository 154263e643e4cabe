"""Rule report_ablation: ablation_{axis}.csv + its figure (a note figure for one value)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report_log import setup  # noqa: E402

from distilface.report.build import build_ablation  # noqa: E402

setup(snakemake)  # noqa: F821
build_ablation(
    snakemake.input.tidy,  # noqa: F821
    snakemake.config,  # noqa: F821
    snakemake.wildcards.axis,  # noqa: F821
    snakemake.output.csv,  # noqa: F821
    Path(snakemake.output.png).with_suffix(""),  # noqa: F821
)
