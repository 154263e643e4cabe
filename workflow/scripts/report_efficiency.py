"""Rule report_efficiency: results/tables/efficiency.csv."""

from distilface.core.logs import job_log
from distilface.report.build import build_efficiency

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    build_efficiency(
        snakemake.input.tidy,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        snakemake.params.models_root,  # noqa: F821
        snakemake.input.int8,  # noqa: F821
    )
