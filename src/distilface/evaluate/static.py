"""Static sentence encoders (model2vec's kind): one vector per token id, a sentence is the
mean of its tokens' vectors. No layers, no attention, no [CLS].

A static model lives in model2vec's folder layout (``model2vec/persistence/persistence.py``,
``save_pretrained``): ``model.safetensors`` with one tensor ``embeddings`` (vocabulary x dim),
``tokenizer.json``, ``config.json`` (``model_type: model2vec``) and a ``modules.json`` naming
sentence-transformers' ``StaticEmbedding`` (+ ``Normalize``), so the same folder loads in
model2vec's ``StaticModel``, in ``SentenceTransformer(folder)`` and here.

Encoding follows model2vec's ``StaticModel.encode`` (``model2vec/model.py``): tokens without the
tokenizer's special tokens (the saved tokenizer has no post-processor, so every caller's
``tokenizer(texts)`` gives exactly those ids), the unknown token dropped, the mean of the rest
(a sentence with none left is the zero vector), truncation at ``max_length`` tokens.
:class:`StaticEncoderModel` answers like a transformers encoder (``last_hidden_state``,
``hidden_states``, ``config.hidden_size``), so the evaluator's batching and the training loop
run it unchanged; it also returns the mask it pooled with (:func:`pooling_mask`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from distilface.data.models import STATIC_MODEL_TYPE as MODEL_TYPE

WEIGHT_KEY = "embeddings"  # model2vec's tensor name; sentence-transformers also reads it
STORAGE_DTYPES = ("float16", "float32")
#: why only ``avg`` applies to a static model (the evaluator's skip reason for the others)
ONLY_MEAN = (
    "a static model has one vector per token (no layers, no [CLS]): only avg pooling applies"
)


@dataclass
class StaticConfig:
    """The attributes the evaluator and the training loop read from a backbone's config."""

    hidden_size: int
    vocab_size: int
    max_position_embeddings: int = 1_000_000  # model2vec's ``seq_length``: no length limit
    initializer_range: float = 0.02
    model_type: str = MODEL_TYPE
    recipe: dict[str, Any] = field(default_factory=dict)  # how it was made (config.json)


@dataclass
class StaticOutput:
    """A transformers-like output: the token vectors as the only "layer" (twice in
    ``hidden_states``, so a layer-averaging pooling reduces to ``avg``), and the mask the
    mean is taken over (padding and the unknown token removed)."""

    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]
    attention_mask: torch.Tensor
    pooler_output: None = None


def pooling_mask(outputs: Any, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mask to pool ``outputs`` with: a static model's own (unknown token dropped), else
    the batch's ``attention_mask``."""
    own = getattr(outputs, "attention_mask", None)
    return own if isinstance(own, torch.Tensor) else attention_mask


class StaticEncoderModel(nn.Module):
    """A token-vector table; ``forward`` returns each token's vector (see :class:`StaticOutput`).

    ``storage_dtype`` is the precision of the saved table (model2vec's default ``float16``,
    ``quantize_to`` in ``distill``); the table is held and trained in float32."""

    def __init__(
        self,
        vectors: torch.Tensor | np.ndarray,
        unk_token_id: int | None,
        recipe: dict[str, Any] | None = None,
        storage_dtype: str = "float16",
    ):
        super().__init__()
        if storage_dtype not in STORAGE_DTYPES:
            raise ValueError(f"storage_dtype {storage_dtype!r}: choose one of {STORAGE_DTYPES}")
        table = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        if table.ndim != 2 or not table.shape[0] or not table.shape[1]:
            raise ValueError(
                f"a static model needs a (vocabulary, dim) table: {tuple(table.shape)}"
            )
        self.embeddings = nn.Embedding.from_pretrained(table, freeze=False)
        self.unk_token_id = unk_token_id
        self.storage_dtype = storage_dtype
        rows, dim = (int(n) for n in table.shape)
        self.config = StaticConfig(hidden_size=dim, vocab_size=rows, recipe=dict(recipe or {}))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        return_dict: bool = True,
        output_hidden_states: bool = False,
    ) -> StaticOutput:
        """Each token's vector; the mask drops padding and the unknown token."""
        mask = attention_mask
        if self.unk_token_id is not None:
            mask = mask * (input_ids != self.unk_token_id).to(mask.dtype)
        hidden = self.embeddings(input_ids)
        return StaticOutput(hidden, (hidden, hidden), mask)

    def save_pretrained(self, folder: str | Path) -> None:
        """``model.safetensors`` + ``config.json`` + ``modules.json`` in model2vec's layout
        (the tokenizer is saved by the caller, next to it)."""
        from safetensors.torch import save_file  # lazy: only saving needs it

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table = self.embeddings.weight.detach().cpu().to(getattr(torch, self.storage_dtype))
        save_file({WEIGHT_KEY: table.contiguous()}, str(folder / "model.safetensors"))
        config = {
            **self.config.recipe,
            "model_type": MODEL_TYPE,
            "architectures": ["StaticModel"],
            "hidden_dim": self.config.hidden_size,
            "seq_length": self.config.max_position_embeddings,
            "normalize": True,
            "embedding_dtype": self.storage_dtype,
        }
        (folder / "config.json").write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
        kinds = ("StaticEmbedding", "Normalize")
        modules = [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(zip((".", "1_Normalize"), kinds, strict=True))
        ]
        (folder / "modules.json").write_text(json.dumps(modules, indent=4) + "\n", encoding="utf-8")
        (folder / "1_Normalize").mkdir(exist_ok=True)


def static_tokenizer(tokenizer: Any) -> Any:
    """``tokenizer`` (a fast one) as model2vec uses it: no special tokens added (no
    post-processor), no truncation or padding of its own, loadable without its original
    class (a class like ``MPNetTokenizer`` would rebuild the post-processor on load)."""
    from tokenizers import Tokenizer  # lazy: transformers pulls it in anyway
    from transformers import PreTrainedTokenizerFast

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__}: a static model needs a fast tokenizer")
    copy = Tokenizer.from_str(backend.to_str())
    copy.post_processor = None
    copy.no_truncation()
    copy.no_padding()
    return PreTrainedTokenizerFast(
        tokenizer_object=copy,
        unk_token=tokenizer.unk_token,
        pad_token=tokenizer.pad_token,
        model_max_length=StaticConfig.max_position_embeddings,
    )


def load_static(folder: str | Path) -> tuple[StaticEncoderModel, Any]:
    """The model and tokenizer of a static folder (float32 table; the tokenizer as saved)."""
    from safetensors import safe_open  # lazy: only static folders need these
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{folder}: a static model needs model.safetensors")
    with safe_open(str(weights), framework="pt") as handle:
        if WEIGHT_KEY not in handle.keys():
            raise ValueError(f"{weights}: no tensor {WEIGHT_KEY!r} (model2vec's layout)")
        table = handle.get_tensor(WEIGHT_KEY).float()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))  # no config.json lookup
    if tokenizer("a b")["input_ids"] != tokenizer("a b", add_special_tokens=False)["input_ids"]:
        raise ValueError(f"{folder}/tokenizer.json adds special tokens: not a static tokenizer")
    recipe = {k: v for k, v in config.items() if k not in _SAVED_KEYS}
    dtype = str(config.get("embedding_dtype", "float32"))
    model = StaticEncoderModel(
        table, tokenizer.unk_token_id, recipe, dtype if dtype in STORAGE_DTYPES else "float32"
    )
    return model, tokenizer


#: config.json keys written by ``save_pretrained`` itself (the rest is the recipe)
_SAVED_KEYS = (
    "model_type",
    "architectures",
    "hidden_dim",
    "seq_length",
    "normalize",
    "embedding_dtype",
)
