"""Snakemake script: teacher embeddings of one corpus (distilface.train.teacher_cache)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.devices import require_gpu_if_requested
from distilface.core.logs import job_log

what = f"rule teacher_cache, {snakemake.wildcards.teacher}/{snakemake.wildcards.corpus}"
with job_log(snakemake.log[0], rule=snakemake.rule, teacher=snakemake.wildcards.teacher):
    require_gpu_if_requested(what, getattr(snakemake.resources, "gpu", 0))
    import torch

    from distilface.train.teacher_cache import build_teacher_cache

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
