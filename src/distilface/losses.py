"""Training losses: SimCSE's contrastive objectives and DisCo's distillation objectives.

Notation: ``sim(a, b) = a.b / (|a| |b|)`` (cosine), ``tau`` the temperature, ``B`` the batch size.

References
- SimCSE: Gao, Yao, Chen, "SimCSE: Simple Contrastive Learning of Sentence Embeddings",
  EMNLP 2021 (arXiv 2104.08821), eq. 1 (unsup) and eq. 5 (sup); code: princeton-nlp/SimCSE
  ``simcse/models.py::cl_forward`` (``Similarity`` = cosine / temp; hard-negative weights).
- DisCo / DistilCSE: Gao, Wu, Wang et al., "DistilCSE: Effective Knowledge Distillation For
  Contrastive Sentence Embeddings" (arXiv 2112.05638; v1 titled "DisCo"): stage 1 distils a
  large sentence encoder into a student on unlabelled text either with an MSE loss (KD) or
  with InfoNCE between student and teacher embeddings (Contrastive KD, CKD); stage 2
  fine-tunes the student contrastively.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cosine_logits(queries: torch.Tensor, keys: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits[i, j] = sim(queries[i], keys[j]) / tau`` for (N, H) x (M, H) -> (N, M)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    q = F.normalize(queries.float(), dim=-1, eps=1e-8)
    k = F.normalize(keys.float(), dim=-1, eps=1e-8)
    return q @ k.T / temperature


def info_nce(
    queries: torch.Tensor,
    keys: torch.Tensor,
    temperature: float,
    hard_negatives: torch.Tensor | None = None,
    hard_negative_weight: float = 0.0,
) -> torch.Tensor:
    """In-batch InfoNCE with the diagonal as positives (SimCSE's formulation).

    For queries ``q_i`` and keys ``k_i`` (i = 1..B), optionally hard negatives ``h_i``::

        l_i = -log  exp(sim(q_i, k_i)/tau)
                    / ( sum_j exp(sim(q_i, k_j)/tau) + sum_j exp(sim(q_i, h_j)/tau + w [i=j]) )
        loss = mean_i l_i

    The hard-negative block is appended as B extra columns, and ``w = hard_negative_weight``
    is added to the logit of each query's *own* hard negative (column ``B + i``), exactly as
    SimCSE's ``cl_forward`` ("weights are actually logits of weights"; w = 0 there by default).
    Returns a scalar (float32).
    """
    if queries.shape != keys.shape:
        raise ValueError(f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)} differ")
    logits = cosine_logits(queries, keys, temperature)
    batch = logits.size(0)
    if hard_negatives is not None:
        if hard_negatives.shape != queries.shape:
            raise ValueError(
                f"hard_negatives {tuple(hard_negatives.shape)} must match {tuple(queries.shape)}"
            )
        hard = cosine_logits(queries, hard_negatives, temperature)
        if hard_negative_weight:
            hard = hard + hard_negative_weight * torch.eye(batch, device=hard.device)
        logits = torch.cat([logits, hard], dim=1)
    labels = torch.arange(batch, device=logits.device)
    return F.cross_entropy(logits, labels)


def simcse_unsup_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Unsupervised SimCSE (eq. 1): ``z1``, ``z2`` are two dropout views of the same B sentences.

    ``l_i = -log exp(sim(z1_i, z2_i)/tau) / sum_j exp(sim(z1_i, z2_j)/tau)``, averaged over i.
    """
    return info_nce(z1, z2, temperature)


def simcse_sup_loss(
    anchor: torch.Tensor,
    positive: torch.Tensor,
    hard_negative: torch.Tensor,
    temperature: float,
    hard_negative_weight: float = 0.0,
) -> torch.Tensor:
    """Supervised SimCSE (eq. 5) on NLI triplets (premise, entailment, contradiction).

    ``l_i = -log e^{sim(h_i, h_i+)/tau} / sum_j (e^{sim(h_i, h_j+)/tau} + e^{sim(h_i, h_j-)/tau})``
    with SimCSE's optional ``hard_negative_weight`` added to the logit of ``h_i-`` (see
    :func:`info_nce`).
    """
    return info_nce(anchor, positive, temperature, hard_negative, hard_negative_weight)


def kd_mse_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    projection: torch.nn.Module | None = None,
) -> torch.Tensor:
    """Embedding-level KD (DisCo stage 1, "KD"): ``mean_{i,d} (W s_i - t_i)_d^2``.

    ``W`` is an optional trainable projection (needed when the student's width differs from the
    teacher's, e.g. 384 -> 768); identity when ``None``. Teacher embeddings are constants.
    """
    s = projection(student) if projection is not None else student
    if s.shape != teacher.shape:
        raise ValueError(
            f"student {tuple(s.shape)} vs teacher {tuple(teacher.shape)}: pass a projection"
        )
    return F.mse_loss(s.float(), teacher.detach().float())


def ckd_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    temperature: float,
    projection: torch.nn.Module | None = None,
) -> torch.Tensor:
    """Contrastive KD (DisCo's CKD): InfoNCE with the teacher's embeddings as keys.

    The student's embedding of sentence i must pick the teacher's embedding of sentence i
    among the batch's teacher embeddings::

        l_i = -log exp(sim(W s_i, t_i)/tau) / sum_j exp(sim(W s_i, t_j)/tau)

    (arXiv 2112.05638, sec. "Contrastive Knowledge Distillation": InfoNCE as the KD loss,
    in-batch negatives). ``W`` as in :func:`kd_mse_loss`; teacher embeddings are constants.
    """
    s = projection(student) if projection is not None else student
    if s.shape != teacher.shape:
        raise ValueError(
            f"student {tuple(s.shape)} vs teacher {tuple(teacher.shape)}: pass a projection"
        )
    return info_nce(s, teacher.detach(), temperature)
