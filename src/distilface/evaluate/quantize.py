"""Dynamic int8 quantisation of an encoder's Linear layers, for CPU inference.

``torch.ao.quantization.quantize_dynamic`` swaps every ``nn.Linear`` for a
``DynamicQuantizedLinear``: weights stored as int8 with one scale per output channel
(``per_channel_dynamic_qconfig``), activations quantised on the fly per batch (one scale per
tensor; torch's x86/fbgemm kernel uses 7-bit activations, ``reduce_range``, to avoid int16
saturation on CPUs without VNNI), matmuls in int8. Embeddings, LayerNorm and attention softmax
stay float32. Measured on all-MiniLM-L6-v2 (AMD EPYC, AVX2): per-tensor weights give embeddings
at cosine ~0.94 to float32, per-channel ~0.97-0.98, hence per-channel here; the STS effect is
measured by :func:`distilface.evaluate.int8.evaluate_int8` (Snakemake rule
``evaluate_int8``; the report's efficiency table shows it). Quantised modules cannot be written as
safetensors the Hugging Face way, so an *exported* int8 model is the unchanged float32
folder plus a marker:

- ``quantization.json`` at the folder's root: ``{"method": "dynamic_int8", "modules":
  ["Linear"], "dtype": "qint8", ...}`` — :meth:`distilface.evaluate.encoders.Encoder.load` sees
  it and
  quantises after loading (:func:`apply_quantization`), so an int8 folder is evaluated like any
  model folder (CPU only; ``Encoder.compute_dtype`` is then ``"int8"``);
- the key ``distilface_quantization`` added to the transformer's ``config.json``, so the
  folder's :func:`distilface.data.models.model_fingerprint` (which hashes config.json) differs from
  the float32 original and embedding caches never mix the two.

A sentence-transformers loader ignores the marker and gets the float32 model.

The torch.ao quantisation API is deprecated upstream in favour of ``torchao``; it still works
in torch 2.13 and its deprecation warnings are silenced here.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from distilface.core.io import atomic_dir
from distilface.data.models import load_pretrained, resolve_model, transformer_dir

MARKER = "quantization.json"
CONFIG_KEY = "distilface_quantization"
METHOD = "dynamic_int8"


def count_linear(model: nn.Module) -> dict[str, int]:
    """Numbers of float ``nn.Linear`` and dynamic-quantised Linear modules in ``model``."""
    # lazy: torch.ao is imported only for int8 work
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    float_linear = sum(
        1
        for m in model.modules()
        if type(m) is nn.Linear  # noqa: E721 (exact type wanted)
    )
    quantized = sum(1 for m in model.modules() if isinstance(m, DynamicLinear))
    return {"linear": float_linear, "quantized_linear": quantized}


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.Linear`` replaced by a dynamic int8 Linear (in place, CPU).

    Raises when the model is not on the CPU (dynamic quantised kernels are CPU-only) or has no
    Linear layer at all.
    """
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"dynamic int8 quantisation runs on the CPU; model is on {devices}")
    if count_linear(model)["linear"] == 0:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to quantise")
    model.eval()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(deprecat|torchao).*", category=Warning)
        # lazy: torch.ao is imported only for int8 work
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(
            model, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )


def read_quantization(folder: str | Path) -> dict[str, Any] | None:
    """The folder's ``quantization.json`` (root, then its transformer sub-folder), or ``None``.

    An unknown ``method`` is an error naming the file.
    """

    folder = Path(folder)
    candidates = [folder / MARKER]
    if folder.is_dir():
        try:
            candidates.append(transformer_dir(folder) / MARKER)
        except FileNotFoundError:
            pass
    for path in candidates:
        if path.is_file():
            try:
                spec = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not valid JSON ({err})") from err
            if not isinstance(spec, dict) or spec.get("method") != METHOD:
                method = spec.get("method") if isinstance(spec, dict) else None
                raise ValueError(f"{path}: key 'method' is {method!r}; only {METHOD!r} is known")
            return spec
    return None


def apply_quantization(
    model: nn.Module,
    folder: str | Path,
    device: torch.device,
    spec: dict[str, Any] | None = None,
) -> nn.Module:
    """Quantise ``model`` when ``folder`` carries a ``quantization.json``; else return it as is.

    The loader hook: a marked folder on a non-CPU device is an error, not a silent float32 run.
    ``spec`` = the folder's :func:`read_quantization`, when the caller has already read it.
    """
    if spec is None:
        spec = read_quantization(folder)
    if spec is None:
        return model
    if torch.device(device).type != "cpu":
        raise ValueError(f"{folder}: {MARKER} asks for {METHOD}, which runs on the CPU only")
    return quantize_linear_int8(model)


def quantize_dynamic_int8(model_dir: str | Path, out_dir: str | Path) -> Path:
    """Export ``model_dir`` (folder or ``bundled:`` name) as an int8 model folder ``out_dir``.

    The float32 files are copied unchanged, ``quantization.json`` is written at the root and
    ``config.json`` of the transformer gets the ``distilface_quantization`` key. The model is
    loaded and quantised once as a check (the number of replaced Linear layers is recorded).
    The folder is assembled under a temporary name and renamed; an existing ``out_dir`` is an
    error. Returns ``out_dir``.
    """
    # lazy: transformers' auto classes are slow to import
    from transformers import AutoModel

    src = Path(resolve_model(str(model_dir)))
    out = Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"{model_dir}: not a local model folder")
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it first")
    if read_quantization(src) is not None:
        raise ValueError(f"{src} is already an int8 export ({MARKER} present)")
    sub = transformer_dir(src).relative_to(src)
    model = load_pretrained(str(src / sub), AutoModel, dtype=torch.float32)
    counts = count_linear(model)
    quantize_linear_int8(model)
    replaced = count_linear(model)["quantized_linear"]
    if replaced != counts["linear"]:
        raise RuntimeError(f"{src}: {replaced} of {counts['linear']} Linear layers quantised")
    spec = {
        "method": METHOD,
        "modules": ["Linear"],
        "dtype": "qint8",
        "weight_scheme": "per_channel_symmetric",
        "activations": "dynamic, per tensor, per batch",
        "engine": torch.backends.quantized.engine,
        "linear_layers": replaced,
        "source": str(model_dir),
        "source_path": str(src),
        "torch": torch.__version__,
    }
    with atomic_dir(out) as build:
        # fresh mtimes (copy, not copy2)
        shutil.copytree(src, build, copy_function=shutil.copy, dirs_exist_ok=True)
        config_path = build / sub / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config[CONFIG_KEY] = METHOD
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (build / MARKER).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return out


def packed_linear_params(model: nn.Module) -> int:
    """Number of weights and biases held packed in dynamic int8 Linear modules (not
    ``Parameter``s, so ``model.parameters()`` misses them)."""
    # lazy: torch.ao is imported only for int8 work
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    total = 0
    for m in model.modules():
        if isinstance(m, DynamicLinear):
            bias = m.bias()
            total += m.weight().numel() + (bias.numel() if bias is not None else 0)
    return total


def state_dict_mib(model: nn.Module) -> float:
    """Size of ``model.state_dict()`` serialised by ``torch.save`` (packed int8 included)."""
    # lazy: only the size estimate needs it
    import io

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 2**20
