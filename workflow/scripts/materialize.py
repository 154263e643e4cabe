"""Snakemake script: materialise one data source (download + sha256, or copy from the mirror)."""
from distilface.download import materialize_output
from distilface.logs import setup_logging

setup_logging(snakemake.log[0])
materialize_output(
    snakemake.params.name,
    snakemake.params.source,
    snakemake.output[0],
    mirror=snakemake.params.mirror,
)
