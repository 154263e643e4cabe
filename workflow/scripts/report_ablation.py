"""Rule report_ablation: ablation_{axis}.csv + its figure (a note figure for one value)."""

from pathlib import Path

from distilface.core.logs import job_log
from distilface.report.build import build_ablation

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_ablation(
        snakemake.input.tidy,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        snakemake.wildcards.axis,  # noqa: F821
        snakemake.output.csv,  # noqa: F821
        Path(snakemake.output.png).with_suffix(""),  # noqa: F821
    )
