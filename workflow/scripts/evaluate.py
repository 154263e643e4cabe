"""Snakemake script: score one model on the seven STS sets with every pooling."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from pathlib import Path

from distilface.core.devices import require_gpu_if_requested
from distilface.core.logs import job_log
from distilface.evaluate.sts import EvalSettings, evaluate_model

settings = snakemake.params.settings
with job_log(snakemake.log[0], rule=snakemake.rule, model=snakemake.wildcards.model):
    require_gpu_if_requested(
        f"rule evaluate, model {snakemake.wildcards.model}",
        getattr(snakemake.resources, "gpu", 0),
        settings["device"],
    )
    evaluate_model(
        model_id=snakemake.wildcards.model,
        encoder_path=snakemake.params.encoder,
        poolings=snakemake.params.poolings,
        senteval_root=snakemake.input.senteval,
        out_dir=Path(snakemake.output.json[0]).parent,
        # cache_dir "": a trained model, not cached
        settings=EvalSettings.from_config(settings, cache_dir=snakemake.params.cache_dir),
    )
