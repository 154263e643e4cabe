"""Rule model_card: results/release/{model}/ = the trained folder + its model card README."""

from distilface.logs import setup_logging
from distilface.modelcard import write_release

setup_logging(snakemake.log[0])  # noqa: F821
write_release(
    snakemake.input.model,  # noqa: F821
    snakemake.input.eval,  # noqa: F821
    snakemake.config,  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
