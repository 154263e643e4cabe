"""Snakemake script: one training.students entry, built by distilface.train.student.build_student
(a DistilBERT-layout student from a teacher's layers, or a static student by model2vec's recipe)."""

# ruff: noqa: F821  (`snakemake` is injected by the script directive)

from distilface.core.logs import job_log
from distilface.train.student import build_student

with job_log(snakemake.log[0], rule=snakemake.rule, student=snakemake.wildcards.student):
    build_student(snakemake.params.spec, snakemake.output[0])
