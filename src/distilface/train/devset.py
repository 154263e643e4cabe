"""STS-B dev during training: the dev sentences tokenised once, scored with the evaluator's
own functions (SimCSE's ``stsb_spearman``)."""

from __future__ import annotations

import numpy as np
import torch

from distilface.evaluate.encoders import distinct, length_sorted_batches
from distilface.evaluate.scoring import correlations, cosine_scores
from distilface.train.model import SentenceModel, autocast_for

# ---------------------------------------------------------------------------------------------
# evaluation


class DevSet:
    """STS-B dev made ready once per run for its many scorings: the distinct sentences of both
    sides tokenised once and cut longest first into padded batches kept on ``device`` (the
    evaluator's :func:`~distilface.evaluate.encoders.length_sorted_batches`). On 2 CPU cores a
    scoring of the 3-layer student takes 2.8 s this way against 6.6 s for each side in file
    order (2.4x), with the same Spearman (``benchmarks/bench_dev_scoring.py``; its JSON in
    ``results/reference/cpu-bench/``)."""

    def __init__(self, dev, tokenizer, batch_size: int, max_length: int, device: torch.device):
        unique, inverse = distinct([*dev.sent1, *dev.sent2])
        self.pairs = inverse.reshape(2, len(dev.sent1))
        self.gold = np.asarray(dev.gold, dtype=np.float64)
        self.n_unique = len(unique)
        self.batches = [
            (rows, {k: v.to(device) for k, v in batch.items()})
            for rows, batch in length_sorted_batches(tokenizer, unique, batch_size, max_length)
        ]

    @torch.no_grad()
    def embed(self, model: SentenceModel) -> np.ndarray:
        """Evaluation embeddings (no dropout, no MLP head) of the distinct sentences, float32."""
        was_training = model.training
        model.eval()
        out: np.ndarray | None = None
        with autocast_for(next(model.parameters()).device):
            for rows, batch in self.batches:
                z = model(batch, head=False).float().cpu().numpy()
                if out is None:
                    out = np.zeros((self.n_unique, z.shape[1]), np.float32)
                out[rows] = z
        model.train(was_training)
        assert out is not None, "an empty STS-B dev set"
        return out


def stsb_dev_spearman(model: SentenceModel, dev: DevSet) -> float:
    """STS-B dev Spearman x 100 of cosine similarity (SimCSE's ``stsb_spearman``), scored by
    the evaluator's own functions."""
    emb = dev.embed(model)
    return correlations(cosine_scores(emb[dev.pairs[0]], emb[dev.pairs[1]]), dev.gold)[0]
