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

import math

import torch
import torch.nn.functional as F


def cosine_logits(
    queries: torch.Tensor, keys: torch.Tensor, temperature: float | torch.Tensor
) -> torch.Tensor:
    """``logits[i, j] = sim(queries[i], keys[j]) / tau`` for (N, H) x (M, H) -> (N, M).

    ``temperature`` is a float or a scalar tensor (learnable, see :class:`LogitScale`)."""
    if not torch.is_tensor(temperature) and temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    q = F.normalize(queries.float(), dim=-1, eps=1e-8)
    k = F.normalize(keys.float(), dim=-1, eps=1e-8)
    return q @ k.T / temperature


def info_nce(
    queries: torch.Tensor,
    keys: torch.Tensor,
    temperature: float | torch.Tensor,
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
    temperature: float | torch.Tensor,
    projection: torch.nn.Module | None = None,
    queue: torch.Tensor | None = None,
    same_row: torch.Tensor | None = None,
    mse_weight: float = 0.0,
) -> torch.Tensor:
    """Contrastive KD (DistilCSE's CKD): InfoNCE with the teacher's embeddings as keys.

    The student's embedding of sentence i must pick the teacher's embedding of sentence i among
    the batch's teacher embeddings and a queue of earlier batches' teacher embeddings ``Q``::

        l_i = -log exp(sim(W s_i, t_i)/tau)
              / ( sum_j exp(sim(W s_i, t_j)/tau) + sum_{q in Q, q not i} exp(sim(W s_i, q)/tau) )
        loss = mean_i l_i  +  mse_weight * mean_{i,d} (W s_i - t_i)_d^2

    As ``caskcsg/sentemb`` ``DistilCSE/ckd_contrastive.py`` (``CSKD.criterion``, l. 92-101:
    L2-normalise both sides, ``scores = temp * q.k`` over ``cat([batch keys, queue])``,
    cross-entropy with the diagonal as targets; l. 88-90 the optional MSE on the projected,
    un-normalised vectors, off in their run script). ``temperature`` may be a float or a
    scalar tensor (a learnable one, see :class:`LogitScale`). ``queue`` (M, D) holds teacher
    vectors (any norm); ``same_row`` (B, M) bool marks queue entries that are the query's own
    sentence (an earlier epoch's copy of the positive): those are masked out, never negatives.
    ``W`` as in :func:`kd_mse_loss`; teacher embeddings and the queue are constants.
    """
    s = projection(student) if projection is not None else student
    if s.shape != teacher.shape:
        raise ValueError(
            f"student {tuple(s.shape)} vs teacher {tuple(teacher.shape)}: pass a projection"
        )
    if not torch.is_tensor(temperature) and temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    keys = teacher.detach().float()
    if queue is not None and queue.numel():
        keys = torch.cat([keys, queue.detach().float().to(keys.device)])
    q = F.normalize(s.float(), dim=-1, eps=1e-8)
    k = F.normalize(keys, dim=-1, eps=1e-8)
    logits = q @ k.T / temperature
    if same_row is not None and same_row.numel():
        batch = s.size(0)
        mask = torch.zeros_like(logits, dtype=torch.bool)
        mask[:, batch:] = same_row.to(logits.device)
        logits = logits.masked_fill(mask, float("-inf"))
    labels = torch.arange(s.size(0), device=logits.device)
    loss = F.cross_entropy(logits, labels)
    if mse_weight:
        loss = loss + mse_weight * F.mse_loss(s.float(), teacher.detach().float())
    return loss


class LogitScale(torch.nn.Module):
    """A temperature, fixed or learnable, as ``tau = exp(-log_scale)``.

    DistilCSE learns ``logit_scale`` (initialised at their ``--temp 1``, so ``tau = e^-1 ~ 0.368``)
    and multiplies the cosine by ``exp(logit_scale)`` (``ckd_contrastive.py`` l. 48, l. 82-83,
    ``ckd_contrastive_run.sh`` l. 11 ``temp=1``, l. 14 ``temp_exp=1``); CLIP does the same. Our
    parameter is that same ``logit_scale``, initialised from a temperature: ``-log(tau0)``.
    """

    def __init__(self, temperature: float, learnable: bool):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        value = torch.tensor(-math.log(temperature), dtype=torch.float32)
        if learnable:
            self.log_scale = torch.nn.Parameter(value)
        else:
            self.register_buffer("log_scale", value)

    def forward(self) -> torch.Tensor:
        """The current temperature (a scalar tensor; differentiable when learnable)."""
        return torch.exp(-self.log_scale)


class TeacherQueue:
    """FIFO of past batches' teacher vectors and their corpus row ids, newest first.

    ``push`` prepends a batch and keeps the first ``size`` rows, exactly as DistilCSE's
    ``queue = cat([keys, queue])[:queue_len]`` (``ckd_contrastive.py`` l. 97, l. 100).
    ``same_row(ids)`` says which queue entries are the same corpus row as each query: with a
    corpus smaller than the queue, the positive's own sentence comes back from an earlier epoch,
    and must not count as a negative. ``masked`` counts how often that happened. The queue lives
    on ``device`` (the training device), a checkpoint's copy on the CPU.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu"):
        if size < 0:
            raise ValueError(f"queue size must be >= 0, got {size}")
        self.size = size
        self.device = torch.device(device)
        self.vectors = torch.empty(0, device=self.device)
        self.ids = torch.empty(0, dtype=torch.long, device=self.device)
        self.masked = 0

    def __len__(self) -> int:
        return int(self.ids.numel())

    def same_row(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, len(queue)) bool: queue entry j holds query i's own corpus row."""
        hit = ids.view(-1, 1).to(self.device) == self.ids.view(1, -1)
        self.masked += int(hit.sum())
        return hit

    def push(self, vectors: torch.Tensor, ids: torch.Tensor) -> None:
        """Prepend one batch (detached) and cut to ``size``."""
        if self.size == 0:
            return
        v, i = vectors.detach().float().to(self.device), ids.to(self.device)
        if len(self):
            v, i = torch.cat([v, self.vectors]), torch.cat([i, self.ids])
        self.vectors, self.ids = v[: self.size], i[: self.size]

    def state_dict(self) -> dict:
        """CPU copy for a checkpoint."""
        return {
            "size": self.size,
            "vectors": self.vectors.cpu(),
            "ids": self.ids.cpu(),
            "masked": self.masked,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` onto this queue's device."""
        self.size, self.masked = int(state["size"]), int(state["masked"])
        self.vectors, self.ids = state["vectors"].to(self.device), state["ids"].to(self.device)
