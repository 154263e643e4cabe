"""Rule evaluate_int8: STS scores and CPU sentences/s of a model, float32 vs int8."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.evaluate.int8 import evaluate_int8
from distilface.evaluate.sts import EvalSettings

settings = EvalSettings.from_config(snakemake.params.settings)  # the evaluate rule's mapping
with job_log(snakemake.log[0], rule=snakemake.rule, model=snakemake.wildcards.model):
    evaluate_int8(
        snakemake.wildcards.model,
        snakemake.params.encoder,
        snakemake.input.int8,
        snakemake.input.senteval,
        snakemake.output[0],
        pooling=snakemake.wildcards.pooling,
        tasks=snakemake.params.tasks,
        fp32_eval_json=snakemake.input.fp32_eval,
        batch_size=settings.batch_size,
        max_length=settings.max_length,
        aggregation=settings.aggregation,
    )
