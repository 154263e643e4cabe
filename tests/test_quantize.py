"""Dynamic int8 export: Linear layers replaced, marker + config key, embeddings close to fp32."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from transformers import BertModel

from distilface.data.models import model_fingerprint
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.int8 import load_quantized_encoder
from distilface.evaluate.quantize import (
    CONFIG_KEY,
    MARKER,
    apply_quantization,
    count_linear,
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


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_factory) -> Path:
    """A random-init 2-layer BERT (hidden 64) with the real bert-base-uncased tokenizer."""
    return tiny_bert_factory(64)


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


def test_encoder_load_applies_the_int8_marker(tiny_model: Path, tmp_path: Path) -> None:
    """Encoder.load quantises an exported folder itself: int8 dtype, same parameter count."""
    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    fp32 = Encoder.load(str(tiny_model), device="cpu")
    enc = Encoder.load(str(out))  # device=None: an int8 export picks the CPU
    assert enc.device.type == "cpu" and enc.quantization == "dynamic_int8"
    assert enc.compute_dtype == "int8" and fp32.compute_dtype == "float32"
    assert count_linear(enc.model) == {"linear": 0, "quantized_linear": 13}
    assert enc.n_params == fp32.n_params  # packed int8 weights counted
    from distilface.core.devices import GpuUnavailableError

    # CPU only: without CUDA the request fails first, naming the device
    with pytest.raises((ValueError, GpuUnavailableError), match="CPU only|CUDA is not available"):
        Encoder.load(str(out), device="cuda")
    with pytest.raises(ValueError, match="not an int8 export"):
        load_quantized_encoder(str(tiny_model))


def test_evaluate_int8_report(tiny_model: Path, tmp_path: Path, shared_data: Path) -> None:
    """The rule's report: both arms scored on the same real sentences, JSON written whole."""
    from distilface.evaluate.int8 import evaluate_int8
    from distilface.report.efficiency import read_int8_reports

    out = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    path = tmp_path / "eval_int8" / "tiny" / "avg.json"
    report = evaluate_int8(
        "tiny", tiny_model, out, shared_data / "senteval", path, tasks=["STS16"], batch_size=256
    )
    saved = json.loads(path.read_text())
    assert saved["model"] == "tiny" and saved["tasks"] == ["STS16"] and saved["machine"]
    assert saved["fp32"]["compute_dtype"] == "float32" and saved["int8"]["compute_dtype"] == "int8"
    assert saved["fp32"]["sentences"] == saved["int8"]["sentences"] > 1500  # STS16: 1,867
    assert saved["fp32"]["params"] == saved["int8"]["params"]
    assert saved["int8"]["state_dict_mib"] < saved["fp32"]["state_dict_mib"]
    assert saved["delta_avg_spearman"] == pytest.approx(
        saved["int8"]["avg_spearman"] - saved["fp32"]["avg_spearman"]
    )
    assert saved["int8"]["avg_spearman"] != saved["fp32"]["avg_spearman"]
    assert abs(saved["delta_avg_spearman"]) < 5  # same random network, int8 noise only
    assert read_int8_reports([path]) == {("tiny", "avg"): report}


def test_int8_targets_resolve_variants_and_models() -> None:
    from distilface.report.targets import int8_reports, int8_targets

    hp = {
        "pooling": "cls",
        "temperature": 0.05,
        "batch_size": 8,
        "learning_rate": 3e-5,
        "dropout": 0.1,
        "max_seq_length": 32,
    }
    config = {
        "models": {"minilm-l6": {"path": "bundled:all-MiniLM-L6-v2"}},
        "training": {"data": {"w": {"path": "x.txt"}}, "students": {"s": {"path": "p"}}},
        "variants": {
            "simcse": {
                "objective": "simcse_unsup",
                "student": "s",
                "data": "w",
                "hparams": hp,
                "seeds": [1, 2],
            },
            "base": {"objective": "none", "student": "s", "pooling": "avg_first_last"},
        },
        "ablations": {"simcse": {"temperature": [0.1]}},  # not a default: not quantised
        "efficiency": {"int8": ["simcse", "minilm-l6@avg_top2", "minilm-l6", "base"]},
    }
    slug = "t0.05_bs8_lr3e-05_do0.1_len32_cls"
    assert int8_targets(config) == [
        (f"simcse/{slug}/seed1", "cls_before_pooler"),  # cls trains an MLP, evaluated without
        (f"simcse/{slug}/seed2", "cls_before_pooler"),
        ("minilm-l6", "avg_top2"),
        ("minilm-l6", "avg"),
        ("base/untrained/seed0", "avg_first_last"),
    ]
    assert (
        int8_reports(config)[0] == f"results/eval_int8/simcse/{slug}/seed1/cls_before_pooler.json"
    )
    config["report"] = {"main_pooling": {"simcse": "avg"}}
    assert int8_targets(config)[0] == (f"simcse/{slug}/seed1", "avg")
    for bad, match in (("nope", "efficiency.int8\\[0\\].*not a key"), ("simcse@max", "pooling")):
        with pytest.raises(ValueError, match=match):
            int8_targets({**config, "efficiency": {"int8": [bad]}})
    assert int8_targets({"models": {}}) == []


def test_speed_sample_is_a_fixed_spread_of_the_sentences() -> None:
    from distilface.evaluate.int8 import speed_sample

    unique = [f"s{i}" for i in range(10_000)]
    sample = speed_sample(unique, 2048)
    assert sample == unique[::5] and len(sample) == 2000  # every 5th: ceil(10000 / 2048)
    assert speed_sample(unique[:100], 2048) == unique[:100]  # fewer: all of them
    with pytest.raises(ValueError, match=">= 1"):
        speed_sample(unique, 0)


def test_evaluate_int8_reuses_the_evaluate_rules_fp32_scores(
    tiny_model: Path, tmp_path: Path, shared_data: Path
) -> None:
    """Given the evaluate rule's JSON, float32 is not re-scored: its scores are the JSON's
    (a bf16 JSON is not float32: then the float32 model is scored here); speeds come from the
    same fixed sample in both arms."""
    from distilface.evaluate.int8 import evaluate_int8
    from distilface.evaluate.sts import evaluate_model

    senteval = shared_data / "senteval"
    evaluate_model("tiny", tiny_model, ["avg"], senteval, tmp_path / "eval", progress=False)
    eval_json = tmp_path / "eval" / "avg.json"
    fp32 = json.loads(eval_json.read_text())
    out8 = quantize_dynamic_int8(tiny_model, tmp_path / "int8")
    report = evaluate_int8(
        "tiny",
        tiny_model,
        out8,
        senteval,
        tmp_path / "r.json",
        tasks=["STS16", "SICKRelatedness"],
        fp32_eval_json=eval_json,
        speed_sentences=300,
    )
    assert report["fp32"]["scores_from"] == str(eval_json)
    assert report["fp32"]["tasks"] == {
        t: fp32["tasks"][t]["spearman"]["all"] for t in ("STS16", "SICKRelatedness")
    }
    assert report["speed_sample"]["sentences"] == report["fp32"]["sentences"] <= 300
    assert report["int8"]["sentences"] == report["fp32"]["sentences"]
    bf16 = {**fp32, "meta": {**fp32["meta"], "dtype": "bfloat16"}}
    (tmp_path / "bf16.json").write_text(json.dumps(bf16))
    again = evaluate_int8(
        "tiny",
        tiny_model,
        out8,
        senteval,
        tmp_path / "r2.json",
        tasks=["STS16"],
        fp32_eval_json=tmp_path / "bf16.json",
        speed_sentences=100,
    )
    assert again["fp32"]["scores_from"] == "scored here"
    assert again["fp32"]["tasks"]["STS16"] == pytest.approx(
        fp32["tasks"]["STS16"]["spearman"]["all"], abs=1e-3
    )
    with pytest.raises(ValueError, match="pooling"):
        evaluate_int8(
            "tiny",
            tiny_model,
            out8,
            senteval,
            tmp_path / "r3.json",
            pooling="avg_top2",
            tasks=["STS16"],
            fp32_eval_json=eval_json,
        )
