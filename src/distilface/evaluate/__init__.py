"""Evaluation stage: encoders and pooling, STS scoring with SimCSE's conventions, the
embedding cache, int8 quantisation and its evaluation, MTEB-format export.

May import :mod:`distilface.core` and :mod:`distilface.data`.
"""
