"""A static student distilled from a sentence-transformer teacher: model2vec's recipe.

model2vec (Tulkens & van Dongen, MinishLab, MIT; ``model2vec/distill/distillation.py``
``distill_from_model`` at commit c901407) makes one vector per token of the teacher's vocabulary:

1. every token of the teacher's tokenizer except those matching ``token_remove_pattern``
   (``[unused\\d+]`` by default, ``distillation.py`` l. 31) and its added/special tokens
   (``prune_added_tokens``, l. 78);
2. each token fed alone between the tokenizer's own special tokens, ``[bos] id [eos]``
   (``tokenizer/tokenizer.py`` ``turn_tokens_into_ids`` l. 102-110), through the teacher, and
   mean-pooled over those positions (``distill/inference.py`` ``_encode_mean_with_model``
   l. 145-157; ``pooling="mean"`` is the default, l. 34), NaN set to 0 (l. 114);
3. PCA to ``pca_dims`` (256 by default, l. 29; ``apply_pca``, inference.py l. 214-247: sklearn
   ``PCA(svd_solver="full")``, skipped when ``pca_dims`` is at least the number of tokens);
4. each token's row times its SIF weight under a Zipf estimate of its frequency from its rank in
   the vocabulary, ``c / (c + p(rank))`` with ``p`` proportional to ``1 / (rank + 2)`` and
   ``c = sif_coefficient`` (1e-4 by default, l. 30; ``compute_weights`` inference.py l. 202-211;
   applied after PCA, distillation.py l. 118-120);
5. stored as float16 (``quantize_to``, l. 32).

Where ours differs, and why: model2vec rebuilds the tokenizer without the removed tokens
(``skeletoken``, which needs ``transformers<5.4``; our lock has 5.24). We keep the teacher's
tokenizer and ids, with a zero row for each removed or special token: the tokens that are encoded
and their vectors are the same, the table has 999 more (unreachable) rows for all-mpnet-base-v2.
A custom word ``vocabulary`` (model2vec's ``vocabulary=``) is not offered for the same reason.

The teacher's forward pass is the only cost: all-mpnet-base-v2's 29,528 tokens take about 80 s on
2 CPU cores (length-3 sequences, 256 a batch as model2vec's ``_DEFAULT_BATCH_SIZE``). The folder
is built once per student (rule ``student_init``) and reused by every variant, like a teacher's
cached embeddings.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from distilface.core.devices import resolve_device
from distilface.core.io import atomic_dir
from distilface.core.logs import log_event
from distilface.data.models import load_pretrained, load_tokenizer, resolve_model, transformer_dir
from distilface.evaluate.static import StaticEncoderModel, static_tokenizer

logger = logging.getLogger(__name__)

#: model2vec's defaults (``distill_from_model`` l. 29-32; the batch: inference.py l. 22)
DEFAULTS: dict[str, Any] = {
    "pca_dims": 256,
    "sif_coefficient": 1e-4,
    "token_remove_pattern": r"\[unused\d+\]",
    "dtype": "float16",
    "batch_size": 256,
}


def sif_weights(n_tokens: int, sif_coefficient: float | None) -> np.ndarray:
    """model2vec's ``compute_weights``: ``c / (c + p)``, ``p`` Zipf's law over the ranks
    ``0..n-1`` (``1 / (rank + 2)``, normalised); all ones when ``sif_coefficient`` is None."""
    if sif_coefficient is None:
        return np.ones(n_tokens)
    if not 0 < sif_coefficient < 1:
        raise ValueError(f"sif_coefficient {sif_coefficient}: must be > 0 and < 1 (or null)")
    inv_rank = 1 / np.arange(2, n_tokens + 2)
    proba = inv_rank / np.sum(inv_rank)
    return sif_coefficient / (sif_coefficient + proba)


def apply_pca(vectors: np.ndarray, pca_dims: int | None) -> tuple[np.ndarray, float | None]:
    """model2vec's ``apply_pca`` for an integer ``pca_dims``: sklearn PCA (full SVD) to
    ``min(pca_dims, dim)`` components, skipped when that is at least the number of rows.
    Returns the vectors and the explained variance ratio (None when skipped)."""
    if pca_dims is None:
        return vectors, None
    dims = min(int(pca_dims), vectors.shape[1])
    if dims >= vectors.shape[0]:
        log_event(logger, "pca skipped", pca_dims=dims, tokens=vectors.shape[0])
        return vectors, None
    from sklearn.decomposition import PCA  # lazy: only the distillation needs it

    pca = PCA(n_components=dims, svd_solver="full")
    out = pca.fit_transform(vectors)
    return out, float(np.sum(pca.explained_variance_ratio_))


def kept_token_ids(tokenizer: Any, token_remove_pattern: str | None) -> list[int]:
    """The ids model2vec encodes: every vocabulary id, in id order, except special tokens and
    those matching ``token_remove_pattern``."""
    regex = re.compile(token_remove_pattern) if token_remove_pattern else None
    special = set(tokenizer.all_special_ids)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    kept = [i for tok, i in vocab if i not in special and not (regex and regex.match(tok))]
    if not kept:
        raise ValueError(f"token_remove_pattern {token_remove_pattern!r} removes every token")
    return kept


def special_affixes(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after a text (``[CLS]``, ``[SEP]``; ``<s>``...)."""
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ValueError(f"{type(tokenizer).__name__}: cannot find a text's ids among its specials")


@torch.inference_mode()
def token_vectors(
    model: torch.nn.Module,
    ids: list[int],
    prefix: list[int],
    suffix: list[int],
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> np.ndarray:
    """The teacher's mean-pooled output for each ``[prefix] id [suffix]`` (one length, so no
    padding: every position is averaged, as model2vec's mask does)."""
    out = np.zeros((len(ids), int(model.config.hidden_size)), np.float32)
    with tqdm(total=len(ids), unit="tok", desc="distil", disable=not progress) as bar:
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            input_ids = torch.tensor([[*prefix, i, *suffix] for i in chunk], device=device)
            hidden = model(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), return_dict=True
            ).last_hidden_state
            out[start : start + len(chunk)] = hidden.float().mean(dim=1).cpu().numpy()
            bar.update(len(chunk))
    return np.nan_to_num(out)


def distil_static(
    teacher: str | Path,
    out_dir: str | Path,
    pca_dims: int | None = DEFAULTS["pca_dims"],
    sif_coefficient: float | None = DEFAULTS["sif_coefficient"],
    token_remove_pattern: str | None = DEFAULTS["token_remove_pattern"],
    dtype: str = DEFAULTS["dtype"],
    batch_size: int = DEFAULTS["batch_size"],
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Distil ``teacher`` (folder, sentence-transformers folder or ``bundled:`` name) into a
    static model at ``out_dir`` (model2vec's layout, :mod:`distilface.evaluate.static`), with
    ``student_init.json`` recording the recipe, the tokens encoded and the time taken."""
    started = time.perf_counter()
    resolved = resolve_model(str(teacher))
    local = Path(resolved)
    model_dir = str(transformer_dir(local)) if local.is_dir() else resolved
    from transformers import AutoModel  # lazy: slow to import

    dev = torch.device(resolve_device(device))
    model = load_pretrained(model_dir, AutoModel, dtype=torch.float32).to(dev).eval()
    tokenizer = load_tokenizer(model_dir)
    ids = kept_token_ids(tokenizer, token_remove_pattern)
    prefix, suffix = special_affixes(tokenizer)
    vectors = token_vectors(model, ids, prefix, suffix, batch_size, dev, progress)
    reduced, explained = apply_pca(vectors, pca_dims)
    reduced = reduced * sif_weights(len(ids), sif_coefficient)[:, None]
    table = np.zeros((len(tokenizer), reduced.shape[1]), np.float32)
    table[ids] = reduced
    recipe = {
        "tokenizer_name": str(teacher),
        "apply_pca": pca_dims,
        "sif_coefficient": sif_coefficient,
        "pooling": "mean",
    }
    static = StaticEncoderModel(table, tokenizer.unk_token_id, recipe, dtype)
    meta = {
        "recipe": "model2vec_distill",
        "teacher": str(teacher),
        "teacher_path": resolved,
        **{k: v for k, v in recipe.items() if k != "tokenizer_name"},
        "token_remove_pattern": token_remove_pattern,
        "dtype": dtype,
        "tokens_encoded": len(ids),
        "vocabulary_rows": len(tokenizer),
        "pca_explained_variance": None if explained is None else round(explained, 6),
        "params": int(table.size),
        "device": str(dev),
        "seconds": round(time.perf_counter() - started, 1),
    }
    with atomic_dir(out_dir) as tmp:
        static.save_pretrained(tmp)
        static_tokenizer(tokenizer).save_pretrained(tmp)
        (tmp / "student_init.json").write_text(json.dumps(meta, indent=2) + "\n")
    log_event(logger, "static student distilled", out_dir=str(out_dir), **meta)
    return Path(out_dir)
