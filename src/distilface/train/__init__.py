"""Training stage: losses, student construction, the teacher cache, and the training loop in
its parts (``settings``, ``model``, ``batches``, ``devset``, ``state``, ``loop``); dev scoring
goes through :mod:`distilface.evaluate`.

May import :mod:`distilface.core`, :mod:`distilface.data`, :mod:`distilface.plan` (the
objective table; the grid is the workflow's, not the loop's) and :mod:`distilface.evaluate`.
"""
