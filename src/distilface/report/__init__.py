"""Report: one tidy frame of every result, paper tables, ablation plots, bootstrap statistics.

Entry points (one per Snakemake rule) live in :mod:`distilface.report.build`; model cards in
:mod:`distilface.report.modelcard`. May import every stage below it (core, data, evaluate,
train); the tables and figures read result files, not models.
"""

from distilface.report.tidy import ResultsError, load_results, parse_model_id

__all__ = ["ResultsError", "load_results", "parse_model_id"]
