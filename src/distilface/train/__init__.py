"""Training stage: the run grid (config -> runs), losses, student construction, the teacher
cache and the training loop (dev scoring through :mod:`distilface.evaluate`).

May import :mod:`distilface.core`, :mod:`distilface.data` and :mod:`distilface.evaluate`.
This ``__init__`` imports nothing, so ``distilface.train.grid`` stays torch-free.
"""
