"""Snakemake script: a DistilBERT-layout student from a teacher's layers (distilface.train.student)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.train.student import student_from_teacher_layers

with job_log(snakemake.log[0], rule=snakemake.rule, student=snakemake.wildcards.student):
    student_from_teacher_layers(
        snakemake.params.teacher,
        snakemake.params.layers,
        snakemake.output[0],
        snakemake.params.layer_init,
        snakemake.params.seed,
    )
