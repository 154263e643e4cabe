"""Rule export_int8: a model folder exported as dynamic int8 (distilface.quantize)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.logs import setup_logging
from distilface.quantize import quantize_dynamic_int8

setup_logging(snakemake.log[0])
quantize_dynamic_int8(snakemake.params.encoder, snakemake.output[0])
