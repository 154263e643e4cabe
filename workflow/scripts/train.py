"""Snakemake script: one training run of the grid (distilface.train.loop.train)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.devices import require_gpu_if_requested
from distilface.core.logs import job_log

kwargs = dict(snakemake.params.kwargs)
model_id = kwargs.get("extra", {}).get("model_id", snakemake.output[0])
with job_log(snakemake.log[0], rule=snakemake.rule, model=model_id):
    require_gpu_if_requested(
        f"rule train, {model_id}", getattr(snakemake.resources, "gpu", 0), kwargs.get("device")
    )
    import torch

    from distilface.train.loop import train
    from distilface.train.settings import TrainConfig

    torch.set_num_threads(snakemake.threads)
    cfg = TrainConfig.from_dict(
        kwargs, out_dir=snakemake.output[0], work_dir=snakemake.params.work_dir
    )
    train(cfg)
