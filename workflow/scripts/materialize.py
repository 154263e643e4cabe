"""Snakemake script: materialise one data source (download + sha256, or copy from the mirror)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.data.download import materialize_output
from distilface.core.logs import job_log

with job_log(snakemake.log[0], rule=snakemake.rule, source=snakemake.params.name):
    materialize_output(
        snakemake.params.name,
        snakemake.params.source,
        snakemake.output[0],
        mirror=snakemake.params.mirror,
    )
