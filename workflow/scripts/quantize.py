"""Snakemake script: export one model as dynamic int8 and compare it with float32 on the CPU."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

import logging
from pathlib import Path

from distilface.bench import machine_info, write_json_atomic
from distilface.logs import log_event, setup_logging
from distilface.quantize import quantization_report, quantize_dynamic_int8

setup_logging(snakemake.log[0])
out_model = Path(snakemake.output.model)
quantize_dynamic_int8(snakemake.params.encoder, out_model)
report = quantization_report(
    snakemake.params.encoder,
    out_model,
    snakemake.input.senteval,
    batch_size=snakemake.params.settings["batch_size"],
    max_length=snakemake.params.settings["max_length"],
)
report["model"] = snakemake.wildcards.model
report["machine"] = machine_info("cpu")
write_json_atomic(snakemake.output.report, report)
log_event(
    logging.getLogger("distilface.quantize"),
    "int8 report written",
    model=snakemake.wildcards.model,
    delta_avg_spearman=report["delta_avg_spearman"],
    speedup=report["speedup"],
    path=snakemake.output.report,
)
