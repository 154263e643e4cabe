"""Training data: examples (sentences, triplets, teacher rows), the order of the batches
(seeded, resumable, optionally length-bucketed), one batch's tensors and its loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from distilface.data.readers import read_corpus, read_nli
from distilface.plan.objectives import OBJECTIVES
from distilface.train import losses
from distilface.train.model import SentenceModel
from distilface.train.settings import TrainConfig
from distilface.train.teacher_cache import load_teacher_cache

# ---------------------------------------------------------------------------------------------
# data


@dataclass
class TrainData:
    """Training examples: sentences (unsup / disco), triplets (sup), teacher rows (disco)."""

    examples: list  # list[str] or list[tuple[str, str, str]]
    teacher: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.examples)


def load_train_data(cfg: TrainConfig) -> TrainData:
    """Read the corpus / NLI file (and teacher cache), cut to ``corpus_limit``."""
    if OBJECTIVES[cfg.objective].examples == "triplets":
        examples: list = read_nli(cfg.data)
    else:
        examples = read_corpus(cfg.data)
    teacher = None
    examples = examples[: cfg.corpus_limit]
    if OBJECTIVES[cfg.objective].teacher:
        arr = load_teacher_cache(cfg.teacher_cache, cfg.data)  # rows = a prefix of the corpus
        if len(arr) < len(examples):
            raise ValueError(
                f"{cfg.teacher_cache}: {len(arr)} rows, training uses {len(examples)} sentences "
                f"of {cfg.data} (corpus_limit={cfg.corpus_limit})"
            )
        teacher = torch.from_numpy(np.array(arr[: len(examples)], dtype=np.float32))
    if len(examples) < 2:
        raise ValueError(f"{cfg.data}: {len(examples)} examples; need at least 2")
    return TrainData(examples, teacher)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Full batches plus the remainder when it has >= 2 examples (1 cannot be contrasted)."""
    return n // batch_size + (1 if n % batch_size >= 2 else 0)


class BatchOrder:
    """The corpus rows of batch ``pos`` of an epoch, from that epoch's permutation.

    Plain: consecutive slices of the permutation. With ``bucket_window`` W: the rows of each W
    consecutive batches are sorted by token length (stable), cut into W batches, and those
    batches shuffled by a generator seeded with (seed, epoch, window): less padding, the same
    rows per epoch, and a pure function of (permutation, epoch, pos), so a resumed run gets the
    same batches. Token lengths are measured once per row, when its window is first met.
    """

    def __init__(self, cfg: TrainConfig, data: TrainData, tokenizer, per_epoch: int):
        self.cfg, self.data, self.tokenizer = cfg, data, tokenizer
        self.used = min(per_epoch * cfg.batch_size, len(data))  # a lone last row is skipped
        self.lengths = np.full(len(data), -1, dtype=np.int64)
        self._key: tuple[int, int] | None = None
        self._batches: list[torch.Tensor] = []

    def rows(self, perm: torch.Tensor, epoch: int, pos: int) -> torch.Tensor:
        """Corpus row indices of batch ``pos`` (0-based) of epoch ``epoch``."""
        size, window = self.cfg.batch_size, self.cfg.bucket_window
        if not window:
            return perm[pos * size : (pos + 1) * size]
        w, k = divmod(pos, window)
        if self._key != (epoch, w):
            chunk = perm[w * window * size : min((w + 1) * window * size, self.used)]
            ranked = chunk[np.argsort(self._token_lengths(chunk), kind="stable")]
            batches = list(ranked.split(size))
            shuffle = np.random.default_rng([self.cfg.seed, epoch, w]).permutation(len(batches))
            self._key, self._batches = (epoch, w), [batches[i] for i in shuffle]
        return self._batches[k]

    def _token_lengths(self, rows: torch.Tensor) -> np.ndarray:
        """Truncated token counts of ``rows`` (a triplet: its longest sentence)."""
        idx = rows.numpy()
        todo = idx[self.lengths[idx] < 0]
        if len(todo):
            examples = [self.data.examples[i] for i in todo]
            triplets = OBJECTIVES[self.cfg.objective].examples == "triplets"
            texts = [t for ex in examples for t in ex] if triplets else examples
            enc = self.tokenizer(
                texts, truncation=True, max_length=self.cfg.max_seq_length, return_length=True
            )
            counts = np.asarray(enc["length"], dtype=np.int64)
            self.lengths[todo] = counts.reshape(len(todo), -1).max(axis=1)
        return self.lengths[idx]


def make_batch(
    cfg: TrainConfig, data: TrainData, idx: torch.Tensor, tokenizer, device: torch.device
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, int]:
    """Tokenised inputs (dynamic padding), teacher targets (or None) and the sentence count."""
    rows = idx.tolist()
    if cfg.objective == "simcse_unsup":
        sents = [data.examples[i] for i in rows]
        texts = sents + sents  # two dropout views in one forward pass
    elif cfg.objective == "simcse_sup":
        trip = [data.examples[i] for i in rows]
        texts = [t[0] for t in trip] + [t[1] for t in trip] + [t[2] for t in trip]
    else:
        texts = [data.examples[i] for i in rows]
    enc = tokenizer(
        texts,
        padding="max_length" if cfg.pad_to_max_length else True,
        truncation=True,
        max_length=cfg.max_seq_length,
        pad_to_multiple_of=cfg.pad_to_multiple_of,
        return_tensors="pt",
    )
    batch = {k: v.to(device) for k, v in enc.items()}
    target = data.teacher[idx].to(device) if data.teacher is not None else None
    return batch, target, len(rows)


def compute_loss(
    cfg: TrainConfig,
    model: SentenceModel,
    batch: dict,
    target: torch.Tensor | None,
    idx: torch.Tensor,
    queue: losses.TeacherQueue,
) -> torch.Tensor:
    """The objective's loss for one batch of corpus rows ``idx`` (CKD also updates ``queue``)."""
    n = len(idx)
    z = model(batch)
    tau = model.logit_scale() if cfg.learn_temperature else cfg.temperature
    if cfg.objective == "simcse_unsup":
        return losses.simcse_unsup_loss(z[:n], z[n:], tau)
    if cfg.objective == "simcse_sup":
        return losses.simcse_sup_loss(
            z[:n], z[n : 2 * n], z[2 * n :], tau, cfg.hard_negative_weight
        )
    if cfg.objective == "disco_kd":
        return losses.kd_mse_loss(z.float(), target, model.projection)
    same_row = queue.same_row(idx) if len(queue) else None
    loss = losses.ckd_loss(
        z.float(), target, tau, model.projection, queue.vectors, same_row, cfg.mse_weight
    )
    queue.push(target, idx)
    return loss
