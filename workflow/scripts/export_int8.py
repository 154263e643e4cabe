"""Rule export_int8: a model folder exported as dynamic int8 (distilface.evaluate.quantize)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.evaluate.quantize import quantize_dynamic_int8

with job_log(snakemake.log[0], rule=snakemake.rule, model=snakemake.wildcards.model):
    quantize_dynamic_int8(snakemake.params.encoder, snakemake.output[0])
