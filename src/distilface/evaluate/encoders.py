"""Load a Hugging Face encoder and turn sentences into pooled embeddings.

The batching follows SimCSE's ``evaluation.py`` batcher (``tokenizer(batch, padding=True)``, one
forward pass with ``output_hidden_states=True``, then one of the five poolings of
:mod:`distilface.evaluate.pooling`), with three speed-ups that do not change any number:

- every distinct sentence is encoded once (duplicates share the row);
- sentences are sorted by token length (longest first, so an out-of-memory error shows up in the
  first batch) and each batch is padded only to its own longest sentence; the original order is
  restored at the end;
- :meth:`Encoder.encode_multi` pools one forward pass in several ways, so evaluating all five
  poolings costs one pass over the data.

Precision ``auto`` (:func:`auto_compute_dtype`): float32 on the CPU; on CUDA float32 below
:data:`AUTO_BF16_MIN_PARAMS` parameters and bf16 autocast from there on (measured: see that
constant); int8 matmuls for a folder exported by :mod:`distilface.evaluate.quantize`. Pooling
is always done in float32 and embeddings are returned as float32. Each batch is tokenized once
(lengths and ids from one call, padded per batch) and its poolings leave the device in one copy.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import warnings
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers.utils import logging as transformers_logging

from distilface.core.devices import resolve_device
from distilface.core.logs import log_event
from distilface.core.names import EVAL_POOLINGS
from distilface.data.models import (
    ModelResolutionError,
    is_static_folder,
    load_pretrained,
    load_tokenizer,
    resolve_model,
    transformer_dir,
)
from distilface.evaluate.pooling import pool
from distilface.evaluate.quantize import apply_quantization, packed_linear_params, read_quantization
from distilface.evaluate.static import (
    ONLY_MEAN,
    StaticEncoderModel,
    load_static,
    pooling_mask,
)

logger = logging.getLogger(__name__)

#: Weight files a checkpoint folder may hold, in the order transformers prefers them.
WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
POOLER_WEIGHT = "pooler.dense.weight"
POOLER_BIAS = "pooler.dense.bias"


def _weight_file(model_dir: str) -> Path | None:
    """First weight file of a local folder, or of a hub name already in the local HF cache."""
    local = Path(model_dir)
    if local.is_dir():
        for name in WEIGHT_FILES:
            if (local / name).is_file():
                return local / name
        return None
    # lazy: only a hub name needs it
    from huggingface_hub import try_to_load_from_cache

    for name in WEIGHT_FILES:
        hit = try_to_load_from_cache(model_dir, name)
        if isinstance(hit, str):
            return Path(hit)
    return None


def _read_pooler_tensors(weight_file: Path) -> tuple[list[str], torch.Tensor | None]:
    """All tensor names of a checkpoint, and its pooler bias (``None`` if absent).

    Safetensors files are opened lazily: only the key names and the bias itself are read.
    """
    name = weight_file.name
    if name.endswith(".index.json"):
        index = json.loads(weight_file.read_text(encoding="utf-8"))
        if "weight_map" not in index:
            raise ValueError(f"{weight_file}: missing key 'weight_map'")
        keys = list(index["weight_map"])
        bias_key = next((k for k in keys if k.endswith(POOLER_BIAS)), None)
        if bias_key is None:
            return keys, None
        _, bias = _read_pooler_tensors(weight_file.parent / index["weight_map"][bias_key])
        return keys, bias
    if name.endswith(".safetensors"):
        # lazy: only the pooler check reads the file
        from safetensors import safe_open

        with safe_open(str(weight_file), framework="pt") as handle:
            keys = list(handle.keys())
            bias_key = next((k for k in keys if k.endswith(POOLER_BIAS)), None)
            return keys, (handle.get_tensor(bias_key) if bias_key else None)
    state = torch.load(weight_file, map_location="cpu", weights_only=True, mmap=True)
    keys = list(state)
    bias_key = next((k for k in keys if k.endswith(POOLER_BIAS)), None)
    return keys, (state[bias_key] if bias_key else None)


def pooler_skip_reason(model_dir: str, model: torch.nn.Module) -> str | None:
    """``None`` if ``cls`` pooling may be scored, else why not.

    ``cls`` needs a *trained* pooler. A model class without a pooler (DistilBERT) has no
    ``pooler_output``; a BertModel loaded from a checkpoint without ``pooler.dense.weight``
    gets a randomly initialised pooler; and a pooler whose bias is identically zero is still at
    its initialisation (any gradient step moves the bias), which is the case for
    all-MiniLM-L6-v2.
    """
    if getattr(model, "pooler", None) is None:
        return f"{type(model).__name__} has no pooler layer (no pooler_output)"
    weight_file = _weight_file(model_dir)
    if weight_file is None:
        return f"no local weight file found for {model_dir!r}: cannot check pooler weights"
    keys, bias = _read_pooler_tensors(weight_file)
    if not any(k.endswith(POOLER_WEIGHT) for k in keys):
        return (
            f"{weight_file.name} has no {POOLER_WEIGHT}: the loaded pooler is randomly "
            "initialised, not trained"
        )
    if bias is not None and not bool(torch.any(bias != 0)):
        return (
            f"{POOLER_BIAS} in {weight_file.name} is identically zero: the pooler is at its "
            "initialisation, never trained"
        )
    return None


def _length_order(lengths: Sequence[int]) -> np.ndarray:
    """Indices sorting ``lengths`` longest first (stable, so ties keep their input order)."""
    return np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")


def distinct(sentences: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct sentences in first-seen order and, per input row, its index among them."""
    position: dict[str, int] = {}
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(f"sentences[{i}] is {type(s).__name__}, not str")
        position.setdefault(s, len(position))
    inverse = np.fromiter((position[s] for s in sentences), np.int64, len(sentences))
    return list(position), inverse


def length_sorted_batches(
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    keys: Collection[str] | None = None,
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """``texts`` tokenised in one call, then cut longest first into batches each padded to its
    own longest row; yields (row indices into ``texts``, the batch's tensors, limited to
    ``keys`` when given). Against batches in input order this halves the padded tokens on STS
    (the evaluator's batching, also the training loop's STS-B dev scoring)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    names = [k for k in encoded.keys() if keys is None or k in keys]
    order = _length_order([len(ids) for ids in encoded["input_ids"]])
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield rows, _pad_batch(tokenizer, {k: [encoded[k][i] for i in rows] for k in names})


PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
#: ``precision="auto"`` on CUDA: bf16 autocast only from this many parameters on. Measured
#: (bench_eval, all 7 sets, all-MiniLM-L6-v2, 22.7 M params, batch 128): bf16 autocast is
#: slower than float32 for a model this small, the forward being launch-bound on short STS
#: sentences — H100: our evaluator 18.7 s with bf16 vs sentence-transformers 4.6 s; H200 with
#: float32: 11.4 s vs 3.8 s (results/reference/gpu-h100/bench/). No model between 22.7 M and
#: 110 M has been timed, so the switch sits at BERT-base size, where bf16 matmuls pay off;
#: ``benchmarks/gpu_bench.sh`` re-measures both precisions (arms ours_fp32 / ours_bf16).
AUTO_BF16_MIN_PARAMS = 100_000_000


def auto_compute_dtype(device_type: str, n_params: int) -> str:
    """``precision="auto"``: ``"bfloat16"`` on CUDA for models of at least
    :data:`AUTO_BF16_MIN_PARAMS` parameters, else ``"float32"`` (always on the CPU, where bf16
    matmuls are emulated without AVX512-BF16/AMX: 0.16x, benchmarks/README.md)."""
    if device_type == "cuda" and n_params >= AUTO_BF16_MIN_PARAMS:
        return "bfloat16"
    return "float32"


@dataclass
class Encoder:
    """A tokenizer + transformer body, ready to embed sentences with SimCSE's poolings."""

    source: str  # what the caller passed (hub name, path or bundled: name)
    model_dir: str  # the folder (or hub name) the transformer was loaded from
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    cls_skip_reason: str | None
    # "auto": auto_compute_dtype (float32 on the CPU and for small models on CUDA, bf16
    # autocast for large ones on CUDA); "fp32": never autocast; "bf16": autocast wherever
    # torch supports it.
    precision: str = "auto"
    # "dynamic_int8" when the folder carries quantization.json (distilface.evaluate.quantize): every
    # Linear then runs as a CPU int8 matmul, and compute_dtype says "int8".
    quantization: str | None = None

    @classmethod
    def load(
        cls, name_or_path: str | Path, device: str | None = None, precision: str = "auto"
    ) -> Encoder:
        """Load tokenizer and model (eval mode, float32 weights) onto ``device``.

        ``device=None`` picks CUDA when available, else CPU. Local sentence-transformers folders
        are unwrapped to their Transformer module's folder. A folder exported by
        :func:`distilface.evaluate.quantize.quantize_dynamic_int8` (it has ``quantization.json``) is
        quantised to dynamic int8 after loading; it runs on the CPU only (``device=None`` then
        means CPU, an explicit CUDA device is an error).
        """
        # lazy: transformers' auto classes are slow to import
        from transformers import AutoModel

        name_or_path = str(name_or_path)
        if device is not None:  # a CUDA request without CUDA fails before any loading
            device = resolve_device(device)
        resolved = resolve_model(name_or_path)
        local = Path(resolved)
        model_dir = str(transformer_dir(local)) if local.is_dir() else resolved
        if is_static_folder(model_dir):  # model2vec's layout: a token-vector table
            model, tokenizer = load_static(model_dir)
        else:
            tokenizer = load_tokenizer(model_dir)
            model = load_pretrained(
                model_dir, AutoModel, output_hidden_states=True, dtype=torch.float32
            )
        check_vocab(model_dir, len(tokenizer), int(model.config.vocab_size))
        _check_finite_weights(model_dir, model)
        quantization = read_quantization(local) if local.is_dir() else None
        if device is None:  # an int8 export runs on the CPU only
            device = "cuda" if torch.cuda.is_available() and quantization is None else "cpu"
        dev = torch.device(device)
        cls_skip_reason = pooler_skip_reason(model_dir, model)  # reads the float32 pooler
        if quantization is not None:  # on the CPU, before any move (a CUDA device is an error)
            model = apply_quantization(model, local, dev, quantization)
        model.to(dev).eval()
        encoder = cls(
            source=name_or_path,
            model_dir=model_dir,
            model=model,
            tokenizer=tokenizer,
            device=dev,
            cls_skip_reason=cls_skip_reason,
            precision=precision,
            quantization=None if quantization is None else str(quantization["method"]),
        )
        log_event(
            logger,
            "encoder loaded",
            source=name_or_path,
            model_dir=model_dir,
            architecture=type(model).__name__,
            params=encoder.n_params,
            embedding_dim=encoder.embedding_dim,
            device=str(dev),
            dtype=encoder.compute_dtype,
            cls_skip_reason=encoder.cls_skip_reason,
        )
        return encoder

    @property
    def n_params(self) -> int:
        """Number of parameters of the loaded model (pooler included when it has one).

        Weights packed in dynamic int8 Linear modules count too (they are not ``Parameter``s),
        so an int8 export reports the same number as its float32 source.
        """

        return sum(p.numel() for p in self.model.parameters()) + packed_linear_params(self.model)

    @property
    def embedding_dim(self) -> int:
        """Size of one pooled embedding (the hidden size)."""
        return int(self.model.config.hidden_size)

    @property
    def compute_dtype(self) -> str:
        """``"int8"`` for a dynamic-int8 model, ``"bfloat16"`` when the forward runs under bf16
        autocast, else ``"float32"`` (embedding caches are keyed on it)."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: choose one of {PRECISIONS}")
        if self.quantization is not None:
            return "int8"
        if self.precision == "auto":
            return auto_compute_dtype(self.device.type, self.n_params)
        return "bfloat16" if self.precision == "bf16" else "float32"

    def available_poolings(self) -> dict[str, str | None]:
        """Every SimCSE pooling mapped to ``None`` (usable) or the reason it is skipped (a
        static model: every pooling but ``avg``)."""
        if isinstance(self.model, StaticEncoderModel):
            return {p: (None if p == "avg" else ONLY_MEAN) for p in EVAL_POOLINGS}
        return {p: (self.cls_skip_reason if p == "cls" else None) for p in EVAL_POOLINGS}

    def encode(
        self,
        sentences: Sequence[str],
        pooling: str,
        batch_size: int = 128,
        max_length: int = 512,
        progress: bool = True,
    ) -> np.ndarray:
        """Embeddings (float32, shape ``(len(sentences), dim)``) in the input order."""
        return self.encode_multi(sentences, [pooling], batch_size, max_length, progress)[pooling]

    def encode_multi(
        self,
        sentences: Sequence[str],
        poolings: Sequence[str],
        batch_size: int = 128,
        max_length: int = 512,
        progress: bool = True,
    ) -> dict[str, np.ndarray]:
        """One forward pass over the distinct sentences, pooled each of ``poolings`` ways."""
        self._check_poolings(poolings)
        if batch_size < 1 or max_length < 2:
            raise ValueError(f"batch_size={batch_size}, max_length={max_length}: both too small")
        unique, inverse = distinct(sentences)
        out = {p: np.zeros((len(unique), self.embedding_dim), np.float32) for p in poolings}
        if not unique:
            return out
        with tqdm(total=len(unique), unit="sent", desc="encode", disable=not progress) as bar:
            for rows, pooled in self._batches(unique, poolings, batch_size, max_length):
                for p in poolings:
                    out[p][rows] = pooled[p]
                bar.update(len(rows))
        return {p: out[p][inverse] for p in poolings}

    def _check_poolings(self, poolings: Sequence[str]) -> None:
        usable = self.available_poolings()
        if not poolings:
            raise ValueError("no pooling requested")
        for p in poolings:
            if p not in usable:
                raise ValueError(f"unknown pooling {p!r}; choose from {', '.join(EVAL_POOLINGS)}")
            if usable[p] is not None:
                raise ValueError(f"pooling {p!r} is not usable for {self.source}: {usable[p]}")

    def _batches(
        self, unique: list[str], poolings: Sequence[str], batch_size: int, max_length: int
    ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Yield (row indices into ``unique``, pooled float32 arrays) per length-sorted batch."""
        limit = self.effective_max_length(max_length)
        accepted = set(inspect.signature(self.model.forward).parameters)
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.compute_dtype == "bfloat16"
            else contextlib.nullcontext()
        )
        for rows, batch in length_sorted_batches(
            self.tokenizer, unique, batch_size, limit, accepted
        ):
            inputs = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode():
                with autocast:
                    outputs = self.model(**inputs, output_hidden_states=True, return_dict=True)
                mask = pooling_mask(outputs, inputs["attention_mask"])
                pooled = _pool_all(poolings, mask, outputs)  # float32
            yield rows, dict(zip(poolings, pooled.cpu().numpy(), strict=True))

    def effective_max_length(self, max_length: int) -> int:
        """``max_length`` capped by the tokenizer's own limit when that limit is a real one."""
        own = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(own, int) and 0 < own < 100_000:
            return min(max_length, own)
        return max_length


def _pad_batch(tokenizer: Any, features: dict[str, list[list[int]]]) -> dict[str, torch.Tensor]:
    """Pad one batch of already-tokenized rows to its longest row, exactly as
    ``tokenizer(texts, padding=True, truncation=True, ...)`` pads (the tokenizer's own ``pad``;
    its advice to call the tokenizer on text instead is silenced: the ids are already made)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        try:
            return tokenizer.pad(features, padding=True, return_tensors="pt")
        finally:
            transformers_logging.set_verbosity(verbosity)


def _pool_all(poolings: Sequence[str], attention_mask: torch.Tensor, outputs: Any) -> torch.Tensor:
    """``(len(poolings), batch, hidden)`` float32: every pooling of one forward pass; only the
    layers a pooling reads (embeddings, last two) are cast to float32."""
    states = outputs.hidden_states
    used = {0, len(states) - 2, len(states) - 1}
    hidden = tuple(h.float() if i in used else h for i, h in enumerate(states))
    pooler = getattr(outputs, "pooler_output", None)
    pooler = pooler.float() if pooler is not None else None
    return torch.stack([pool(p, attention_mask, hidden, pooler) for p in poolings])


def _check_finite_weights(model_dir: str, model: torch.nn.Module) -> None:
    """Refuse weights holding NaN / inf (bytes overwritten inside a weight file): they give
    NaN embeddings, which SentEval's convention would zero and score."""
    bad = [name for name, w in model.named_parameters() if not bool(torch.isfinite(w).all())]
    if bad:
        raise ModelResolutionError(
            f"{model_dir}: {len(bad)} weight tensor(s) hold NaN or inf (first: {bad[0]}); the "
            "weight file is damaged, or the model diverged in training"
        )


def check_vocab(model_dir: str, tokenizer_len: int, vocab_size: int) -> None:
    """Fail loudly on a broken tokenizer (transformers 5.x can build a 5-token vocab).

    Ids beyond the embedding table (``len(tokenizer) > vocab_size``) or a vocabulary less than
    half the embedding table are errors; a small mismatch (tables padded for speed) is logged.
    """
    if tokenizer_len > vocab_size or tokenizer_len < vocab_size // 2:
        raise ValueError(
            f"{model_dir}: tokenizer has {tokenizer_len} tokens but config.json vocab_size is "
            f"{vocab_size}; the tokenizer files were not read correctly"
        )
    if tokenizer_len != vocab_size:
        log_event(
            logger,
            "tokenizer smaller than embedding table",
            model_dir=model_dir,
            tokenizer_len=tokenizer_len,
            vocab_size=vocab_size,
        )
