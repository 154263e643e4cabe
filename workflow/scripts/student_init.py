"""Snakemake script: a DistilBERT-layout student from a teacher's layers (distilface.student)."""
from distilface.logs import setup_logging
from distilface.student import student_from_teacher_layers

setup_logging(snakemake.log[0])
student_from_teacher_layers(
    snakemake.params.teacher, snakemake.params.layers, snakemake.output[0]
)
