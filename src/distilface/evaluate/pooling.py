"""Pooling of transformer hidden states into one sentence vector.

The five methods are the ones SimCSE's ``evaluation.py`` offers (``--pooler``):

- ``cls``: the [CLS] hidden state passed through the model's *trained* pooler (dense + tanh).
  Only valid when the checkpoint ships trained pooler weights (BERT's NSP pooler); see
  :func:`has_trained_pooler` in :mod:`distilface.evaluate.encoders`.
- ``cls_before_pooler``: the raw last-layer [CLS] hidden state.
- ``avg``: mean of the last layer over non-padding tokens.
- ``avg_first_last``: mean over tokens of (hidden_states[0] + last layer) / 2, exactly as
  SimCSE's ``evaluation.py`` (``first_hidden = hidden_states[0]``, the embedding output;
  some forks use ``hidden_states[1]``, the first transformer layer).
- ``avg_top2``: mean over tokens of (last + second-to-last layer) / 2.
"""

from __future__ import annotations

import torch

from distilface.core.names import EVAL_POOLINGS


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` (B, T, H) over the positions where ``attention_mask`` (B, T) is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def pool(
    method: str,
    attention_mask: torch.Tensor,
    hidden_states: tuple[torch.Tensor, ...],
    pooler_output: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pool one batch. ``hidden_states`` is the model's tuple (embeddings, layer 1, ..., last)."""
    last = hidden_states[-1]
    if method == "cls":
        if pooler_output is None:
            raise ValueError("pooling 'cls' needs the model's trained pooler output")
        return pooler_output
    if method == "cls_before_pooler":
        return last[:, 0]
    if method == "avg":
        return masked_mean(last, attention_mask)
    if method == "avg_first_last":
        return masked_mean((hidden_states[0] + last) / 2.0, attention_mask)
    if method == "avg_top2":
        return masked_mean((hidden_states[-2] + last) / 2.0, attention_mask)
    raise ValueError(f"unknown pooling {method!r}; choose one of {', '.join(EVAL_POOLINGS)}")
