"""Rule model_card: results/release/{model}/ = the trained folder + its model card README."""

from distilface.core.logs import job_log
from distilface.report.modelcard import write_release

with job_log(snakemake.log[0], rule=snakemake.rule):  # noqa: F821
    write_release(
        snakemake.input.model,  # noqa: F821
        snakemake.input.eval,  # noqa: F821
        snakemake.params.config,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
