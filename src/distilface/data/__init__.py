"""Data stage: corpus and model sources (download, mirrors, checksums) and the readers of the
STS, SICK, NLI and corpus files.

May import :mod:`distilface.core` only.
"""
