"""Static students (model2vec's recipe): distilled offline from a tiny random teacher, scored
through the evaluator's one path, read by sentence-transformers, trained with KD and CKD."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from tinydata import tiny_bert, write_mirror

from distilface.data.models import is_static_folder, load_tokenizer
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.static import load_static
from distilface.train.static_student import distil_static, kept_token_ids, sif_weights
from distilface.train.student import build_student

WORDS = "the a man woman dog cat plays runs eats guitar ball park river red green house".split()


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("teacher") / "bert", hidden=32, pooler=False)


@pytest.fixture(scope="module")
def static(teacher, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static") / "m2v"
    return distil_static(teacher, out, pca_dims=8, dtype="float32", progress=False)


def test_sif_weights_follow_zipf_as_model2vec():
    # n = 3: p(rank) = (1/2, 1/3, 1/4) / (13/12) = (6, 4, 3) / 13; weight = c / (c + p)
    c = 0.1
    expected = [c / (c + p) for p in (6 / 13, 4 / 13, 3 / 13)]
    np.testing.assert_allclose(sif_weights(3, c), expected)
    assert np.all(sif_weights(5, None) == 1)
    with pytest.raises(ValueError, match="sif_coefficient"):
        sif_weights(3, 1.5)


def test_a_distilled_row_is_the_teacher_on_that_token_alone(teacher, tmp_path):
    """Without PCA and SIF, a token's row is the teacher's mean-pooled output for the
    sentence made of that token alone, as the evaluator computes it ([CLS] tok [SEP])."""
    out = distil_static(teacher, tmp_path / "raw", pca_dims=None, sif_coefficient=None,
                        dtype="float32", progress=False)  # fmt: skip
    model, tokenizer = load_static(out)
    words = ["dog", "guitar", "river"]
    ids = [tokenizer(w)["input_ids"] for w in words]
    assert all(len(i) == 1 for i in ids)  # single tokens, no specials added
    rows = model.embeddings.weight[[i[0] for i in ids]].detach().numpy()
    alone = Encoder.load(str(teacher), device="cpu").encode(words, "avg", progress=False)
    np.testing.assert_allclose(rows, alone, atol=1e-5)


def test_distillation_keeps_every_token_but_specials_and_unused(static, teacher):
    meta = json.loads((static / "student_init.json").read_text())
    model, _ = load_static(static)
    kept = kept_token_ids(load_tokenizer(str(teacher)), r"\[unused\d+\]")
    assert meta["tokens_encoded"] == len(kept) == 30522 - 994 - 5  # BERT: 994 unused, 5 specials
    assert meta["vocabulary_rows"] == model.config.vocab_size == 30522
    table = model.embeddings.weight.detach().numpy()
    assert table.shape == (30522, 8) and meta["params"] == table.size
    dropped = np.setdiff1d(np.arange(30522), kept)
    assert np.all(table[dropped] == 0) and np.all(np.abs(table[kept]).sum(1) > 0)
    assert 0 < meta["pca_explained_variance"] < 1
    assert is_static_folder(static) and not is_static_folder(teacher)


def test_pca_rows_are_centred_and_decorrelated(teacher, tmp_path):
    out = distil_static(teacher, tmp_path / "pca", pca_dims=8, sif_coefficient=None,
                        dtype="float32", progress=False)  # fmt: skip
    model, _ = load_static(out)
    kept = kept_token_ids(load_tokenizer(str(teacher)), r"\[unused\d+\]")
    rows = model.embeddings.weight.detach().double().numpy()[kept]
    np.testing.assert_allclose(rows.mean(0), 0, atol=1e-4)
    cov = np.cov(rows.T)
    off = cov - np.diag(np.diag(cov))
    assert np.abs(off).max() < 1e-4 * np.abs(np.diag(cov)).max()
    assert np.all(np.diff(np.diag(cov)) <= 1e-9)  # components by decreasing variance


def test_the_evaluator_and_sentence_transformers_agree_on_a_static_model(static):
    from sentence_transformers import SentenceTransformer

    sents = _sentences(20)
    enc = Encoder.load(str(static), device="cpu")
    ours = enc.encode(sents, "avg", progress=False)
    theirs = SentenceTransformer(str(static), device="cpu").encode(sents)  # normalised
    np.testing.assert_allclose(ours / np.linalg.norm(ours, axis=1, keepdims=True), theirs,
                               atol=1e-5)  # fmt: skip
    usable = enc.available_poolings()
    assert usable["avg"] is None and all(v for p, v in usable.items() if p != "avg")
    with pytest.raises(ValueError, match="only avg pooling"):
        enc.encode(sents, "cls_before_pooler", progress=False)
    assert enc.n_params == 30522 * 8 and enc.embedding_dim == 8


def test_the_unknown_token_is_dropped_as_model2vec_does(static):
    enc = Encoder.load(str(static), device="cpu")
    assert enc.tokenizer("dog \u2603")["input_ids"][-1] == enc.tokenizer.unk_token_id
    with_unk, without = enc.encode(["dog \u2603 runs", "dog runs"], "avg", progress=False)
    np.testing.assert_allclose(with_unk, without, atol=1e-6)
    assert np.all(enc.encode(["\u2603"], "avg", progress=False) == 0)  # nothing left: zero


def test_a_static_student_scores_through_the_cli(static, tmp_path):
    from distilface.cli import main

    mirror = write_mirror(tmp_path / "mirror")
    main(["evaluate", str(static), "--data", str(mirror / "senteval"), "--out",
          str(tmp_path / "eval"), "--format", "json", "--quiet"])  # fmt: skip
    result = json.loads((tmp_path / "eval" / "avg.json").read_text())
    assert len(result["tasks"]) == 7 and np.isfinite(result["avg"]["spearman"])
    assert result["meta"]["params"] == 30522 * 8 and result["meta"]["sentences_encoded"] > 0


def test_build_student_reads_the_config_entry(teacher, tmp_path):
    spec = {"from_model2vec": {"teacher": str(teacher), "pca_dims": 4, "sif_coefficient": None,
                               "token_remove_pattern": None}}  # fmt: skip
    out = build_student(spec, tmp_path / "s")
    meta = json.loads((out / "student_init.json").read_text())
    assert meta["apply_pca"] == 4 and meta["sif_coefficient"] is None
    assert meta["tokens_encoded"] == 30522 - 5 and meta["dtype"] == "float16"
    assert json.loads((out / "config.json").read_text())["embedding_dtype"] == "float16"


@pytest.mark.parametrize("objective", ["disco_kd", "disco_ckd"])
def test_kd_and_ckd_train_a_static_student(static, objective, tmp_path):
    from distilface.train.loop import train
    from distilface.train.settings import TrainConfig
    from distilface.train.teacher_cache import build_teacher_cache

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_sentences(96, seed=1)) + "\n")
    npy = build_teacher_cache("bundled:all-MiniLM-L6-v2", corpus, tmp_path / "tc.npy", 32, 32,
                              device="cpu")  # fmt: skip
    cfg = dict(objective=objective, student=str(static), data=str(corpus), teacher_cache=str(npy),
               out_dir=tmp_path / "out", batch_size=16, learning_rate=1e-2, max_steps=12,
               eval_every=100, log_every=1, checkpoint_every=None, max_seq_length=16,
               pooling="avg", dropout=0.0, seed=0, device="cpu", progress=False)  # fmt: skip
    if objective == "disco_ckd":
        cfg.update(temperature=0.05)  # no queue: its filling would raise the loss
    out = train(TrainConfig(**cfg), dev=None)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert np.mean([r["loss"] for r in log[-3:]]) < np.mean([r["loss"] for r in log[:3]])
    assert is_static_folder(out) and (out / "train_summary.json").is_file()
    trained, _ = load_static(out)
    start, _ = load_static(static)
    assert not torch.equal(trained.embeddings.weight, start.embeddings.weight)
    assert Encoder.load(str(out), device="cpu").encode(["a dog"], "avg", progress=False).any()


def test_a_static_student_refuses_dropout_and_other_poolings(static, tmp_path):
    from distilface.train.model import SentenceModel, load_backbone

    with pytest.raises(ValueError, match="hparams.dropout: 0"):
        load_backbone(str(static), 0.1)
    backbone, _ = load_backbone(str(static), 0.0)
    with pytest.raises(ValueError, match="static student"):
        SentenceModel(backbone, "cls")


def _with_student(spec: dict) -> dict:
    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/quick.yaml").read_text())
    cfg["training"]["students"]["m2v-mpnet"] = spec
    return cfg


def test_the_config_schema_checks_a_static_student():
    from distilface.core.config import config_errors
    from distilface.plan import grid
    from distilface.report.labels import model_label

    good = {"from_model2vec": {"teacher": "bundled:all-mpnet-base-v2", "pca_dims": 256}}
    cfg = _with_student(good)
    assert config_errors(cfg) == []
    assert grid.student_kind(cfg, "m2v-mpnet") == "from_model2vec"
    assert grid.student_dir(cfg, "m2v-mpnet") == "results/models/students/m2v-mpnet"
    assert model_label({"training": {"students": {"s": good}}}, "s") == (
        "static student (256-d, model2vec of all-mpnet-base-v2)"
    )
    bad = {"from_model2vec": {"teacher": "t", "pca_dims": 1, "dtype": "int4"}}
    problems = " ".join(config_errors(_with_student(bad)))
    assert "pca_dims" in problems and "dtype" in problems
    both = {**good, "from_layers": {"teacher": "t", "layers": [0]}}
    assert config_errors(_with_student(both))  # one kind per student


def test_model2vec_itself_reads_our_static_folder_alike(static):
    """model2vec's own StaticModel (its loader and encode, [UNK] dropped) gives the evaluator's
    embeddings, up to its unit normalisation."""
    from model2vec import StaticModel

    sents = [*_sentences(12, seed=3), "dog \u2603 runs", "\u2603"]
    theirs = StaticModel.from_pretrained(str(static)).encode(sents)
    ours = Encoder.load(str(static), device="cpu").encode(sents, "avg", progress=False)
    norms = np.linalg.norm(ours, axis=1, keepdims=True)
    np.testing.assert_allclose(ours / np.where(norms > 0, norms, 1), theirs, atol=1e-5)


def test_the_schema_defaults_are_the_recipes():
    """The config schema documents model2vec's defaults; build_student applies DEFAULTS: one
    set of numbers."""
    import yaml

    from distilface.train.static_student import DEFAULTS

    schema = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "config/schema.yaml").read_text()
    )
    students = schema["properties"]["training"]["properties"]["students"]
    props = students["additionalProperties"]["properties"]["from_model2vec"]["properties"]
    assert {k: props[k]["default"] for k in DEFAULTS} == DEFAULTS
