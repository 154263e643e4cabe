"""Snakemake script: one training run of the grid (distilface.train.train)."""

import torch

from distilface.logs import setup_logging
from distilface.train import TrainConfig, train

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = TrainConfig.from_dict(
    dict(snakemake.params.kwargs),
    out_dir=snakemake.output[0],
    work_dir=snakemake.params.work_dir,
)
train(cfg)
