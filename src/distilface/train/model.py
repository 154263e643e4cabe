"""The model trained: a transformer backbone with pooling (+ training-only MLP head and
projection), how it is loaded and how it is saved (HF folder, sentence-transformers folder)."""

from __future__ import annotations

import contextlib
import inspect
import shutil
from pathlib import Path

import torch
from torch import nn

from distilface.core.io import atomic_dir
from distilface.core.names import TRAIN_TO_EVAL_POOLING
from distilface.data.models import (
    is_static_folder,
    load_pretrained,
    load_tokenizer,
    resolve_model,
    transformer_dir,
)
from distilface.evaluate.encoders import check_vocab
from distilface.evaluate.pooling import pool
from distilface.evaluate.static import StaticEncoderModel, load_static, pooling_mask
from distilface.train import losses

ST_POOLING_MODE = {"cls_before_pooler": "cls", "avg": "mean"}

# ---------------------------------------------------------------------------------------------
# model


class SentenceModel(nn.Module):
    """Transformer backbone + pooling (+ training-only MLP head and projection)."""

    def __init__(
        self,
        backbone: nn.Module,
        pooling: str,
        teacher_dim: int | None = None,
        temperature: float = 0.05,
        learn_temperature: bool = False,
    ):
        super().__init__()
        if isinstance(backbone, StaticEncoderModel) and pooling != "avg":
            raise ValueError(f"pooling {pooling!r}: a static student is pooled by its mean (avg)")
        self.backbone = backbone
        self.pooling = pooling
        hidden = int(backbone.config.hidden_size)
        init = float(getattr(backbone.config, "initializer_range", 0.02))
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh()) if pooling == "cls" else None
        self.projection = (
            nn.Linear(hidden, teacher_dim) if teacher_dim and teacher_dim != hidden else None
        )
        # SimCSE's MLP gets BERT's init, N(0, 0.02) and zero bias (its ``cl_init``); DisCo's
        # projection keeps torch's nn.Linear default, as DistilCSE's ``self.linear``.
        for m in self.mlp.modules() if self.mlp is not None else ():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=init)
                nn.init.zeros_(m.bias)
        self.logit_scale = losses.LogitScale(temperature, learn_temperature)
        self._accepted = set(inspect.signature(backbone.forward).parameters)

    def forward(self, batch: dict[str, torch.Tensor], head: bool = True) -> torch.Tensor:
        """Pooled sentence embeddings; ``head=False`` skips the MLP (evaluation)."""
        inputs = {k: v for k, v in batch.items() if k in self._accepted}
        out = self.backbone(**inputs, return_dict=True)
        hidden = out.last_hidden_state.float()  # pool in float32 (bf16 autocast on CUDA)
        mask = pooling_mask(out, batch["attention_mask"])  # a static model drops [UNK]
        z = pool(TRAIN_TO_EVAL_POOLING[self.pooling], mask, (hidden,))
        if head and self.mlp is not None:
            z = self.mlp(z)
        return z


def load_backbone(path: str, dropout: float) -> tuple[nn.Module, object]:
    """AutoModel + tokenizer from ``path`` (ST folders unwrapped), dropout set to ``dropout``;
    the same resolution, weight and tokenizer checks as the evaluator's ``Encoder.load``. A
    static folder (:mod:`distilface.evaluate.static`) has no dropout: ``dropout`` must be 0."""
    from transformers import AutoConfig, AutoModel  # lazy: slow to import

    path = resolve_model(path)
    local = Path(path)
    model_dir = str(transformer_dir(local)) if local.is_dir() else path
    if is_static_folder(model_dir):
        if dropout:
            raise ValueError(
                f"{model_dir} is a static model (a token-vector table, no dropout layers): "
                f"set hparams.dropout: 0 (given {dropout})"
            )
        model, tokenizer = load_static(model_dir)  # saved again in its own precision
    else:
        config = AutoConfig.from_pretrained(model_dir)
        names = (
            "dropout",
            "attention_dropout",
            "hidden_dropout_prob",
            "attention_probs_dropout_prob",
        )
        overrides = {n: dropout for n in names if hasattr(config, n)}
        if not overrides:
            raise ValueError(f"{model_dir}: no dropout setting found in {type(config).__name__}")
        config.update(overrides)
        model = load_pretrained(model_dir, AutoModel, config=config, dtype=torch.float32)
        tokenizer = load_tokenizer(model_dir)
    check_vocab(model_dir, len(tokenizer), int(model.config.vocab_size))
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# files


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA, nothing (float32) elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def save_sentence_transformer(hf_dir: Path, out_dir: Path, eval_pooling: str, max_len: int) -> None:
    """Wrap a HF folder as a sentence-transformers folder whose pooling equals ``eval_pooling``;
    a static folder (model2vec's layout) already is one and is copied as it is."""
    if is_static_folder(hf_dir):
        shutil.copytree(hf_dir, out_dir, dirs_exist_ok=True)
        return
    # lazy: sentence-transformers is heavy; only saving needs it
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    tr = Transformer(str(hf_dir), max_seq_length=max_len)
    pl = Pooling(tr.get_embedding_dimension(), pooling_mode=ST_POOLING_MODE[eval_pooling])
    SentenceTransformer(modules=[tr, pl], device="cpu").save(str(out_dir))


def save_hf(model: SentenceModel, tokenizer, dest: Path) -> None:
    """The backbone and tokenizer as a HF folder at ``dest``, replaced atomically (the best and
    the final model are both saved by this)."""
    with atomic_dir(dest) as tmp:
        model.backbone.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
