"""The DistilBERT-layout student filled from all-MiniLM-L6-v2's layers."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModel, AutoTokenizer, DistilBertConfig, DistilBertModel

from distilface.data.models import resolve_model
from distilface.train.student import random_student, student_from_teacher_layers

SENTS = ["A man is playing a guitar.", "the cat sat on the mat while it rained outside"]


@pytest.fixture(scope="module")
def minilm() -> str:
    return resolve_model("bundled:all-MiniLM-L6-v2")


def _hidden(path: str, sentences: list[str]):
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    batch = tok(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    return out.hidden_states, batch["attention_mask"].bool()


def test_all_six_layers_reproduce_bert_hidden_states(minilm, tmp_path):
    out = student_from_teacher_layers(minilm, range(6), tmp_path / "s6")
    assert isinstance(AutoModel.from_pretrained(out), DistilBertModel)
    h_bert, mask = _hidden(minilm, SENTS)
    h_stud, mask_s = _hidden(str(out), SENTS)
    assert torch.equal(mask, mask_s)
    assert len(h_bert) == len(h_stud) == 7
    for a, b in zip(h_bert, h_stud, strict=True):
        assert (a - b)[mask].abs().max().item() < 1e-5


def test_three_layer_student_size_and_tokenizer(minilm, tmp_path):
    out = student_from_teacher_layers("bundled:all-MiniLM-L6-v2", (0, 2, 4), tmp_path / "s3")
    model = AutoModel.from_pretrained(out)
    assert model.config.n_layers == 3 and model.config.dim == 384
    n = sum(p.numel() for p in model.parameters())
    assert 17.0e6 < n < 17.5e6
    assert len(AutoTokenizer.from_pretrained(out)) == 30522
    # layer 1 of the student is layer 2 of the teacher
    teacher = AutoModel.from_pretrained(minilm)
    lin1 = model.transformer.layer[1].ffn.lin1.weight
    assert torch.equal(lin1, teacher.encoder.layer[2].intermediate.dense.weight)


def test_bad_layers_and_atomic_output(minilm, tmp_path):
    with pytest.raises(ValueError, match="invalid"):
        student_from_teacher_layers(minilm, (0, 6), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_random_student(minilm, tmp_path):
    cfg = DistilBertConfig(n_layers=2, dim=32, n_heads=2, hidden_dim=64)
    a = random_student(cfg, tmp_path / "a", minilm, seed=1)
    b = random_student(cfg, tmp_path / "b", minilm, seed=1)
    wa = AutoModel.from_pretrained(a).state_dict()
    wb = AutoModel.from_pretrained(b).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert len(AutoTokenizer.from_pretrained(a)) == 30522


def test_random_layers_student_keeps_the_embeddings_and_draws_fresh_layers(minilm, tmp_path):
    """layer_init random: MiniLM's tokenizer and embeddings, BERT-initialised layers that
    differ from MiniLM's and from another seed's, and repeat for the same seed."""
    copy = student_from_teacher_layers(minilm, (0, 2, 4), tmp_path / "copy")
    built = {
        name: student_from_teacher_layers(
            minilm, (0, 2, 4), tmp_path / name, layer_init="random", seed=seed
        )
        for name, seed in (("r0", 0), ("r0-again", 0), ("r1", 1))
    }
    w = {name: AutoModel.from_pretrained(path).state_dict() for name, path in built.items()}
    wc = AutoModel.from_pretrained(copy).state_dict()
    teacher = AutoModel.from_pretrained(minilm).state_dict()
    emb = [k for k in wc if k.startswith("embeddings.")]
    layers = [k for k in wc if k.startswith("transformer.layer.")]
    assert emb and len(layers) == 3 * 16
    for name in built:
        assert set(w[name]) == set(wc)
        assert all(torch.equal(w[name][k], wc[k]) for k in emb), name
    assert torch.equal(
        w["r0"]["embeddings.word_embeddings.weight"],
        teacher["embeddings.word_embeddings.weight"],
    )
    weights = [k for k in layers if k.endswith("lin.weight") or k.endswith("lin1.weight")]
    assert all(not torch.equal(w["r0"][k], wc[k]) for k in weights)  # not MiniLM's layers
    assert all(torch.equal(w["r0"][k], w["r0-again"][k]) for k in layers)  # same seed: same
    assert all(not torch.equal(w["r0"][k], w["r1"][k]) for k in weights)  # other seed: other
    # BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm
    q = w["r0"]["transformer.layer.0.attention.q_lin.weight"]
    assert abs(q.std().item() - 0.02) < 1e-3 and abs(q.mean().item()) < 1e-3
    assert torch.equal(w["r0"]["transformer.layer.1.ffn.lin1.bias"], torch.zeros(1536))
    assert torch.equal(w["r0"]["transformer.layer.2.output_layer_norm.weight"], torch.ones(384))
    meta = json.loads((built["r1"] / "student_init.json").read_text())
    assert meta["layer_init"] == "random" and meta["seed"] == 1
    assert len(AutoTokenizer.from_pretrained(built["r0"])) == 30522
    with pytest.raises(ValueError, match="layer_init"):
        student_from_teacher_layers(minilm, (0, 1), tmp_path / "bad", layer_init="zeros")
