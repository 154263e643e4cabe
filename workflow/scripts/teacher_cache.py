"""Snakemake script: teacher embeddings of one corpus (distilface.teacher_cache)."""

import torch

from distilface.logs import setup_logging
from distilface.teacher_cache import build_teacher_cache

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
build_teacher_cache(
    teacher=snakemake.params.teacher,
    corpus_path=snakemake.input.corpus,
    out_npy=snakemake.output.npy,
    max_length=snakemake.params.max_length,
    batch_size=snakemake.params.batch_size,
    limit=snakemake.params.limit,
    pooling=snakemake.params.pooling,
)
