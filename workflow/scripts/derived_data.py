"""Snakemake script: a data set derived from the training splits (distilface.data.readers)."""

from distilface.data.readers import build_derived
from distilface.core.logs import setup_logging

setup_logging(snakemake.log[0])
build_derived(snakemake.params.kind, snakemake.input[0], snakemake.output[0])
