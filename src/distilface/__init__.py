"""DistilFace bench: contrastive learning of sentence embeddings in small (distilled) models.

The package mirrors the workflow's DAG; each layer imports only the layers above it in this list
(``tests/test_layout.py`` walks the imports and fails on a circle or an upward import):

- :mod:`distilface.core`: torch-free facts and plumbing (task, objective and pooling names,
  path templates, file writes, provenance, logging, config validation, device choice).
- :mod:`distilface.data`: sources, download and mirrors, model resolution, readers.
- :mod:`distilface.evaluate`: encoders, pooling, STS scoring, embedding cache, int8.
- :mod:`distilface.train`: losses, students, teacher cache, the run grid, the training loop.
- :mod:`distilface.report`: tidy results, statistics, tables, figures, HTML, model cards.
- top level: :mod:`distilface.cli` and :mod:`distilface.reproduce` (entry points).
"""

__version__ = "0.1.0"
