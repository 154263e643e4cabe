"""Snakemake script: a data set derived from the training splits (distilface.data.readers)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.data.readers import build_derived

with job_log(snakemake.log[0], rule=snakemake.rule, derived=snakemake.params.kind):
    build_derived(snakemake.params.kind, snakemake.input[0], snakemake.output[0])
