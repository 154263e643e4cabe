"""Snakemake script: score one model on the seven STS sets with every pooling."""
from pathlib import Path

from distilface.logs import setup_logging
from distilface.sts import evaluate_model

setup_logging(snakemake.log[0])
settings = snakemake.params.settings
evaluate_model(
    model_id=snakemake.wildcards.model,
    encoder_path=snakemake.params.encoder,
    poolings=snakemake.params.poolings,
    senteval_root=snakemake.input.senteval,
    out_dir=Path(snakemake.output.json[0]).parent,
    aggregation=settings["aggregation"],
    batch_size=settings["batch_size"],
    max_length=settings["max_length"],
    cache_dir="results/cache/embeddings",
    device=None if settings["device"] == "auto" else settings["device"],
    precision=settings.get("precision", "auto"),
)
