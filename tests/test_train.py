"""The training loop on a tiny random DistilBERT: learning, resume, NaN, saved-model parity."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import DistilBertConfig

from distilface.core.types import StsPairs
from distilface.train import losses
from distilface.train.loop import train
from distilface.train.settings import TrainConfig
from distilface.train.student import random_student


def read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


WORDS = (
    "the a man woman dog cat plays runs eats guitar ball park river city red green quickly "
    "slowly small large old young house car tree bird sings jumps over under near"
).split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) + "."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("".join(_sentence(rng) + "\n" for _ in range(96)))
    return path


@pytest.fixture(scope="module")
def dev() -> StsPairs:
    """Pairs scored by word overlap (a computable similarity, enough to exercise evaluation)."""
    rng = random.Random(1)
    s1 = [_sentence(rng) for _ in range(40)]
    s2 = [_sentence(rng) for _ in range(40)]
    gold = np.array([len(set(a.split()) & set(b.split())) for a, b in zip(s1, s2, strict=True)])
    return StsPairs("STSBenchmark", s1, s2, gold.astype(float), ["dev"] * 40)


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    cfg = DistilBertConfig(n_layers=2, dim=32, n_heads=2, hidden_dim=64, max_position_embeddings=64)
    out = tmp_path_factory.mktemp("student") / "tiny"
    return random_student(cfg, out, "bundled:all-MiniLM-L6-v2", seed=0)


def _killed_then_resumed(cfg: TrainConfig, dev, kill_at: int) -> Path:
    """Train ``cfg``, kill it after optimiser step ``kill_at``, run it again (resuming from its
    last checkpoint) and return the resumed run's output folder."""

    def boom(step: int) -> None:
        if step == kill_at:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train(cfg, dev=dev, step_callback=boom)
    return train(cfg, dev=dev)


def _cfg(student, corpus, out, **kw) -> TrainConfig:
    base = dict(
        objective="simcse_unsup",
        student=str(student),
        data=str(corpus),
        out_dir=out,
        batch_size=8,
        learning_rate=5e-4,
        max_steps=8,
        eval_every=3,
        log_every=1,
        checkpoint_every=2,
        max_seq_length=16,
        eval_max_length=64,
        seed=7,
        device="cpu",
        progress=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def test_a_few_steps_lower_the_loss(student, corpus, tmp_path):
    # mean pooling: a random tiny model's [CLS] states are near-identical across sentences
    out = train(
        _cfg(
            student,
            corpus,
            tmp_path / "m",
            max_steps=24,
            eval_every=100,
            pooling="avg",
            checkpoint_every=None,
        ),
        dev=None,
    )
    log = _log(out)
    assert [r["step"] for r in log] == list(range(1, 25))
    first = np.mean([r["loss"] for r in log[:4]])
    last = np.mean([r["loss"] for r in log[-4:]])
    assert last < first / 2, (first, last)
    assert set(log[0]) == {
        "step",
        "epoch",
        "loss",
        "lr",
        "stsb_dev",
        "temperature",
        "sentences_per_s",
        "steps_per_s",
        "tokens_per_s",
        "elapsed_s",
    }
    assert log[-1]["lr"] == 0.0  # linear decay to zero
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["saved"] == "final" and summary["final_step"] == 24
    assert summary["device"] == "cpu" and summary["dtype"] == "float32"
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()  # not mkdtemp's 0700
    assert not (tmp_path / "m.partial").exists()


def test_resume_gives_bit_identical_weights(student, corpus, dev, tmp_path):
    ref = train(_cfg(student, corpus, tmp_path / "ref"), dev=dev)

    class Interrupt(RuntimeError):
        pass

    def boom(step: int) -> None:
        if step == 5:  # after the checkpoint at step 4, before the one at step 6
            raise Interrupt

    cfg = _cfg(student, corpus, tmp_path / "res")
    with pytest.raises(Interrupt):
        train(cfg, dev=dev, step_callback=boom)
    assert not (tmp_path / "res").exists()
    assert (tmp_path / "res.partial" / "checkpoint" / "state.pt").is_file()
    other = _cfg(student, corpus, tmp_path / "res", learning_rate=1e-3)
    with pytest.raises(ValueError, match="learning_rate"):
        train(other, dev=dev)  # a checkpoint of other settings is never resumed
    res = train(cfg, dev=dev)
    summary = json.loads((res / "train_summary.json").read_text())
    assert summary["resumed_from_step"] == 4
    a, b = load_file(ref / "model.safetensors"), load_file(res / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    keep = ("step", "loss", "lr", "stsb_dev")

    def strip(out: Path) -> list[dict]:
        return [{k: r[k] for k in keep} for r in _log(out)]

    assert strip(ref) == strip(res)
    ref_summary = json.loads((ref / "train_summary.json").read_text())
    assert summary["best_step"] == ref_summary["best_step"]


def test_nan_loss_raises_and_writes_no_model(student, corpus, tmp_path, monkeypatch):
    real = losses.simcse_unsup_loss
    calls = {"n": 0}

    def nan_at_third(z1, z2, t):
        calls["n"] += 1
        loss = real(z1, z2, t)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(losses, "simcse_unsup_loss", nan_at_third)
    with pytest.raises(FloatingPointError, match="step 3"):
        train(_cfg(student, corpus, tmp_path / "nan"), dev=None)
    assert not (tmp_path / "nan").exists()


@pytest.mark.parametrize("pooling, eval_pooling", [("cls", "cls_before_pooler"), ("avg", "avg")])
def test_saved_model_matches_evaluator(student, corpus, dev, tmp_path, pooling, eval_pooling):
    from sentence_transformers import SentenceTransformer

    from distilface.evaluate.encoders import Encoder

    out = train(_cfg(student, corpus, tmp_path / pooling, pooling=pooling, max_steps=4), dev=dev)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["eval_pooling"] == eval_pooling and summary["saved"] == "best"
    sents = dev.sent1[:10]
    ours = Encoder.load(str(out), device="cpu").encode(sents, eval_pooling, progress=False)
    st = SentenceTransformer(str(out), device="cpu").encode(sents, convert_to_numpy=True)
    assert ours.shape == st.shape == (10, 32)
    np.testing.assert_allclose(st, ours, atol=1e-5)


def test_disco_ckd_and_kd_with_teacher_cache(student, corpus, dev, tmp_path):
    from distilface.train.teacher_cache import build_teacher_cache, load_teacher_cache

    npy = build_teacher_cache(
        "bundled:all-MiniLM-L6-v2",
        corpus,
        tmp_path / "tc" / "c.npy",
        max_length=32,
        batch_size=32,
        device="cpu",
    )
    emb = load_teacher_cache(npy, corpus)
    meta = json.loads(npy.with_suffix(".json").read_text())
    assert emb.shape == (96, 384) and meta["n"] == 96
    assert meta["pooling"] == "avg" and "raw" in meta["vector"]
    assert npy.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600
    # the cache holds the teacher's mean-pooled vector BEFORE its Normalize module: not unit
    # norm, and equal to the teacher's own sentence-transformers output once normalised
    from sentence_transformers import SentenceTransformer

    from distilface.data.models import resolve_model

    norms = np.linalg.norm(emb, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-2)
    st = SentenceTransformer(resolve_model("bundled:all-MiniLM-L6-v2"), device="cpu")
    st.max_seq_length = 32
    unit = st.encode(read_lines(corpus)[:16], convert_to_numpy=True)
    np.testing.assert_allclose(emb[:16] / norms[:16, None], unit, atol=1e-5)
    other = tmp_path / "other.txt"
    other.write_text("a different corpus\nof two lines\n")
    with pytest.raises(ValueError, match="sha256"):
        load_teacher_cache(npy, other)
    part = build_teacher_cache("bundled:all-MiniLM-L6-v2", corpus, tmp_path / "p.npy", 32, limit=50)
    assert load_teacher_cache(part, corpus).shape == (50, 384)
    with pytest.raises(ValueError, match="50 rows"):
        train(
            _cfg(
                student,
                corpus,
                tmp_path / "short",
                objective="disco_kd",
                teacher_cache=str(part),
                pooling="avg",
            ),
            dev=None,
        )
    for objective in ("disco_ckd", "disco_kd"):
        out = train(
            _cfg(
                student,
                corpus,
                tmp_path / objective,
                objective=objective,
                teacher_cache=str(npy),
                pooling="avg",
                max_steps=12,
                eval_every=100,
                checkpoint_every=None,
            ),
            dev=None,
        )
        log = _log(out)
        assert np.mean([r["loss"] for r in log[-3:]]) < np.mean([r["loss"] for r in log[:3]])
        # KD's MSE reads no temperature: its records carry none (CKD's, the one it used)
        summary = json.loads((out / "train_summary.json").read_text())
        reads_tau = objective == "disco_ckd"
        assert (summary["final_temperature"] is not None) == reads_tau
        assert (summary["config"]["temperature"] is not None) == reads_tau
        assert all((r["temperature"] is not None) == reads_tau for r in log)


def test_ckd_queue_learnable_temperature_and_resume(student, corpus, dev, tmp_path):
    """The authors' CKD (queue over past teacher batches, learnable temperature): it trains,
    masks the positive's own earlier copy, and a resumed run restores the queue bit-exactly."""
    from distilface.train.teacher_cache import build_teacher_cache

    npy = build_teacher_cache("bundled:all-MiniLM-L6-v2", corpus, tmp_path / "tc.npy", 32)
    kw = dict(
        objective="disco_ckd",
        teacher_cache=str(npy),
        pooling="avg",
        queue_size=40,  # 5 batches; the corpus (96 rows) comes back every 12 steps
        learn_temperature=True,
        temperature=0.37,
        max_steps=16,
        learning_rate=5e-2,  # large, so the temperature visibly moves in 16 steps
        checkpoint_every=6,
    )
    ref = train(_cfg(student, corpus, tmp_path / "ref", **kw), dev=dev)
    summary = json.loads((ref / "train_summary.json").read_text())
    assert summary["final_temperature"] != pytest.approx(0.37, abs=1e-4)
    assert summary["queue_masked_entries"] > 0  # epoch 2 meets epoch 1's copies in the queue
    assert all("temperature" in r for r in _log(ref))

    res = _killed_then_resumed(_cfg(student, corpus, tmp_path / "res", **kw), dev, kill_at=8)
    a, b = load_file(ref / "model.safetensors"), load_file(res / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    resumed = json.loads((res / "train_summary.json").read_text())
    assert resumed["resumed_from_step"] == 6
    assert resumed["queue_masked_entries"] == summary["queue_masked_entries"]


def test_early_stopping_keeps_the_best_dev_weights(student, corpus, dev, tmp_path, monkeypatch):
    """Scripted dev scores peak at step 12 (end of epoch 0); with patience 1 the run stops at the
    start of epoch 2 (DistilCSE: ``epoch - pre_epoch > early_stop``) and saves step 12's weights."""
    from distilface.train import loop as train_mod

    scores = {0: 10.0, 6: 20.0, 12: 30.0}
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    calls: list[int] = []

    def scripted(model, dev_set):
        step = len(calls) * 6
        calls.append(step)
        snapshots[step] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
        return scores.get(step, 5.0)

    monkeypatch.setattr(train_mod, "stsb_dev_spearman", scripted)
    cfg = _cfg(
        student,
        corpus,
        tmp_path / "es",
        max_steps=None,
        epochs=10,
        eval_every=6,
        eval_at_start=True,
        patience=1,
        checkpoint_every=None,
    )
    out = train(cfg, dev=dev)
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["stopped_early"] is True
    assert (summary["best_step"], summary["final_step"], summary["total_steps"]) == (12, 24, 120)
    assert calls == [0, 6, 12, 18, 24]
    saved = load_file(out / "model.safetensors")
    best = snapshots[12]
    assert all(torch.equal(saved[k], best[k]) for k in saved)
    assert not all(torch.equal(saved[k], snapshots[24][k]) for k in saved)


# --- checkpoints of the old loop, throughput switches -----------------------------------------


def test_old_checkpoint_is_refused_by_name(student, corpus, tmp_path):
    """A state.pt of the loop before the rewrite (no ``format`` key) fails clearly, untouched."""
    cfg = _cfg(student, corpus, tmp_path / "old")
    state = tmp_path / "old.partial" / "checkpoint" / "state.pt"
    state.parent.mkdir(parents=True)
    torch.save({"model": {}, "state": {"step": 4}, "config": {}}, state)
    with pytest.raises(ValueError, match=r"state\.pt: checkpoint format 1.*delete it"):
        train(cfg, dev=None)
    assert state.is_file()


class _RunsCode:
    """An object whose unpickling would call a function (what a planted checkpoint does)."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_a_checkpoint_that_would_run_code_is_refused(student, corpus, tmp_path):
    """Checkpoints load with ``weights_only=True``: a state.pt holding an arbitrary object
    (whoever can write a shared results tree could plant one) is refused, naming the file."""
    cfg = _cfg(student, corpus, tmp_path / "evil")
    state = tmp_path / "evil.partial" / "checkpoint" / "state.pt"
    state.parent.mkdir(parents=True)
    torch.save({"format": 2, "payload": _RunsCode()}, state)
    with pytest.raises(ValueError, match=r"state\.pt: not a plain checkpoint.*delete it"):
        train(cfg, dev=None)


def _losses(out: Path) -> list[float]:
    return [r["loss"] for r in _log(out)]


def test_pad_to_multiple_of_8_keeps_the_first_loss(student, corpus, tmp_path):
    """Padding is masked: without dropout (whose masks follow the padded shape) the first
    step's loss equals the plain loop's, and the padded run still learns."""
    kw = dict(max_steps=12, pooling="avg", dropout=0.0, checkpoint_every=None)
    plain = train(_cfg(student, corpus, tmp_path / "plain", **kw), dev=None)
    pad8 = train(_cfg(student, corpus, tmp_path / "pad8", pad_to_multiple_of=8, **kw), dev=None)
    a, b = _losses(plain), _losses(pad8)
    assert a[0] == pytest.approx(b[0], rel=1e-5, abs=1e-6)
    assert all(np.isfinite(b)) and np.mean(b[-3:]) < np.mean(b[:3])


def test_bucketing_batches_cover_the_epoch_with_less_padding(student, corpus):
    from distilface.train.batches import BatchOrder, batches_per_epoch, load_train_data
    from distilface.train.model import load_backbone

    tokenizer = load_backbone(str(student), 0.1)[1]
    cfg = _cfg(student, corpus, "unused", batch_size=8, bucket_window=4)
    data = load_train_data(cfg)
    per_epoch = batches_per_epoch(len(data), cfg.batch_size)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(3))
    plain = BatchOrder(_cfg(student, corpus, "unused", batch_size=8), data, tokenizer, per_epoch)
    bucketed = BatchOrder(cfg, data, tokenizer, per_epoch)
    rows_plain = [plain.rows(perm, 0, pos) for pos in range(per_epoch)]
    rows_bucket = [bucketed.rows(perm, 0, pos) for pos in range(per_epoch)]
    assert sorted(torch.cat(rows_bucket).tolist()) == sorted(torch.cat(rows_plain).tolist())
    assert [len(r) for r in rows_bucket] == [8] * per_epoch

    def padded(rows: list[torch.Tensor]) -> int:
        lengths = bucketed._token_lengths(torch.cat(rows))
        return sum(int(lengths[i : i + 8].max()) * 8 for i in range(0, len(lengths), 8))

    assert padded(rows_bucket) < padded(rows_plain)
    # a pure function of (permutation, epoch, pos): a resumed run meets the same batches
    fresh = BatchOrder(cfg, data, tokenizer, per_epoch)
    assert torch.equal(fresh.rows(perm, 0, 6), rows_bucket[6])
    window = [fresh.rows(perm, 1, pos).tolist() for pos in range(4, 8)]
    assert window != [r.tolist() for r in rows_bucket[4:8]]  # a new epoch shuffles anew
    assert sorted(window) == sorted(r.tolist() for r in rows_bucket[4:8])


def test_bucketed_run_learns_and_resumes_bit_identically(student, corpus, tmp_path):
    kw = dict(bucket_window=3, pad_to_multiple_of=8, pooling="avg", max_steps=16)
    kw.update(checkpoint_every=5, eval_every=100)
    ref = train(_cfg(student, corpus, tmp_path / "ref", **kw), dev=None)
    losses_ref = _losses(ref)
    assert all(np.isfinite(losses_ref)) and np.mean(losses_ref[-3:]) < np.mean(losses_ref[:3])

    # killed in epoch 1 (12 batches an epoch), after the checkpoint at step 10
    res = _killed_then_resumed(_cfg(student, corpus, tmp_path / "res", **kw), None, kill_at=13)
    a, b = load_file(ref / "model.safetensors"), load_file(res / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert _losses(res) == losses_ref


def test_fused_adamw_falls_back_on_cpu_with_a_notice(student, corpus, tmp_path, caplog):
    kw = dict(max_steps=6, checkpoint_every=None, pooling="avg")
    plain = train(_cfg(student, corpus, tmp_path / "plain", **kw), dev=None)
    with caplog.at_level("INFO", logger="distilface.train.loop"):
        fused = train(_cfg(student, corpus, tmp_path / "fused", fused_adamw=True, **kw), dev=None)
    assert "fused_adamw needs CUDA" in caplog.text
    assert json.loads((fused / "train_summary.json").read_text())["fused_adamw"] is False
    assert _losses(fused) == _losses(plain)


@pytest.mark.slow  # inductor's C++ compile: ~1-3 min on 2 CPU cores
def test_torch_compile_needs_static_shapes_and_learns(student, corpus, tmp_path):
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        _cfg(student, corpus, tmp_path / "x", torch_compile="default")
    with pytest.raises(ValueError, match="torch_compile"):
        _cfg(student, corpus, tmp_path / "x", torch_compile="max", pad_to_multiple_of=8)
    kw = dict(max_steps=10, checkpoint_every=None, pooling="avg", pad_to_multiple_of=16)
    kw.update(dropout=0.0, max_seq_length=16)  # one padded length: one graph
    plain = _losses(train(_cfg(student, corpus, tmp_path / "plain", **kw), dev=None))
    out = train(_cfg(student, corpus, tmp_path / "compiled", torch_compile="default", **kw))
    compiled = _losses(out)
    assert compiled[0] == pytest.approx(plain[0], rel=1e-4)
    assert all(np.isfinite(compiled)) and np.mean(compiled[-3:]) < np.mean(compiled[:3])
    graphs = [r["compiled_graphs"] for r in _log(out)]
    assert graphs[2] >= 1 and graphs[-1] == graphs[2]  # no recompiles in steady state


def test_dev_set_scores_as_each_sentence_alone(student, dev):
    """The loop's prepared dev set (distinct sentences, longest first, padded batches) gives the
    Spearman of embedding every sentence on its own (no padding at all), and leaves the model in
    the mode it found it in."""
    from scipy.stats import spearmanr

    from distilface.train.devset import DevSet, stsb_dev_spearman
    from distilface.train.model import SentenceModel, load_backbone

    backbone, tokenizer = load_backbone(str(student), 0.1)
    model = SentenceModel(backbone, "avg")
    repeated = StsPairs(  # a sentence on both sides and twice: deduplicated, yet scored per pair
        "STSBenchmark", [*dev.sent1, dev.sent2[0]], [*dev.sent2, dev.sent1[3]],
        np.append(dev.gold, 1.0), ["dev"] * 41,
    )  # fmt: skip
    dev_set = DevSet(repeated, tokenizer, batch_size=8, max_length=64, device=torch.device("cpu"))
    assert dev_set.n_unique == len(set(repeated.sent1) | set(repeated.sent2)) < 82
    assert model.training
    got = stsb_dev_spearman(model, dev_set)
    assert model.training

    model.eval()
    with torch.no_grad():

        def alone(s: str) -> np.ndarray:
            return model(tokenizer([s], return_tensors="pt"), head=False)[0].numpy()

        pairs = zip(repeated.sent1, repeated.sent2, strict=True)
        cos = [
            float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
            for a, b in ((alone(x), alone(y)) for x, y in pairs)
        ]
    want = 100 * spearmanr(cos, repeated.gold).statistic
    assert got == pytest.approx(want, abs=1e-6)
    assert abs(got) > 1.0  # a real correlation, not a degenerate zero


def _minilm_cache(corpus: Path, out: Path) -> Path:
    """A teacher cache of MiniLM's vectors (384-d: wider than the tiny 32-d student, so the
    run has a projection)."""
    from distilface.train.teacher_cache import build_teacher_cache

    return build_teacher_cache("bundled:all-MiniLM-L6-v2", corpus, out, 32, 32, device="cpu")


def test_lstsq_projection_starts_closer_to_the_teacher(student, corpus, tmp_path):
    """projection_init lstsq: the head is the least-squares map of the untouched student's
    embeddings onto the teacher's, so step 1's KD loss is below the random head's."""
    from distilface.train.batches import compute_loss, make_batch
    from distilface.train.loop import _setup

    npy = _minilm_cache(corpus, tmp_path / "tc.npy")
    first = {}
    for init in ("random", "lstsq"):
        cfg = _cfg(student, corpus, tmp_path / init, objective="disco_kd", pooling="avg",
                   teacher_cache=str(npy), projection_init=init)  # fmt: skip
        data, model, tok, queue = _setup(cfg, torch.device("cpu"))
        assert model.projection is not None
        model.eval()
        idx = torch.arange(16)
        batch, target, _ = make_batch(cfg, data, idx, tok, torch.device("cpu"))
        with torch.no_grad():
            first[init] = compute_loss(cfg, model, batch, target, idx, queue).item()
    assert first["lstsq"] < 0.5 * first["random"], first
    with pytest.raises(ValueError, match="projection_init"):
        _cfg(student, corpus, tmp_path / "x", objective="simcse_unsup", projection_init="lstsq")


def test_summary_and_report_give_the_kept_and_last_dev(student, corpus, dev, tmp_path):
    """A tiny run scored at its start: train_summary's best / start / last dev, and the main
    table's Best step, Dev (kept) and Dev (last step) read from its log, agree; a run whose best
    is its start is named "no gain (best = start)" in the table."""
    from synthetic import write_eval

    from distilface.report import outcomes, tables
    from distilface.report.tidy import load_results

    root = tmp_path / "results"
    model = "simcse/t0.05_bs8_lr0.0005_do0.1_len16_avg/seed7"
    out = train(
        _cfg(
            student,
            corpus,
            root / "models" / model,
            pooling="avg",
            max_steps=9,
            eval_every=3,
            eval_at_start=True,
        ),  # fmt: skip
        dev=dev,
    )
    summary = json.loads((out / "train_summary.json").read_text())
    scored = [(r["step"], r["stsb_dev"]) for r in _log(out) if r.get("stsb_dev") is not None]
    assert [s for s, _ in scored] == [0, 3, 6, 9]
    best = max(scored, key=lambda sd: sd[1])
    assert summary["best_step"] == best[0] and summary["best_stsb_dev"] == best[1]
    assert summary["start_stsb_dev"] == scored[0][1]
    assert (summary["last_dev_step"], summary["last_stsb_dev"]) == scored[-1]
    assert summary["best_is_start"] == (best[0] == 0)

    config = {
        "evaluation": {"aggregation": "all"},
        "variants": {
            "simcse": {"objective": "simcse_unsup", "student": "tiny", "seeds": [7],
                       "hparams": {"pooling": "avg", "temperature": 0.05, "batch_size": 8,
                                   "learning_rate": 5e-4, "dropout": 0.1,
                                   "max_seq_length": 16}},
        },
    }  # fmt: skip
    evals = [write_eval(root / "eval", model, "avg", noise=0.3)]
    frame = load_results(evals, [out / "train_log.jsonl"])
    wide = tables.scores_wide(frame)
    row = outcomes.attach_training(tables.select_main(wide, config), frame, config).iloc[0]
    assert row["best_step"] == str(summary["best_step"])
    assert row["dev_kept"] == pytest.approx(summary["best_stsb_dev"])
    assert row["dev_last"] == pytest.approx(summary["last_stsb_dev"])
    assert row["display"].endswith(outcomes.NO_GAIN) == summary["best_is_start"]
    # the same log with every later score below the start: the row says no gain
    log = out / "train_log.jsonl"
    records = _log(out)
    for r in records:
        if r.get("stsb_dev") is not None and r["step"] > 0:
            r["stsb_dev"] = records[0]["stsb_dev"] - 1.0
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    frame = load_results(evals, [log])
    row = outcomes.attach_training(tables.select_main(wide, config), frame, config).iloc[0]
    assert row["best_step"] == "0" and row["display"] == f"unsup. SimCSE: {outcomes.NO_GAIN}"
    main = tables.main_table(pd.DataFrame([row]), {})
    assert {"Best step", "Dev (kept)", "Dev (last step)", "Gap closed (%)"} <= set(main.columns)


def test_a_stale_teacher_cache_is_refused(corpus, tmp_path):
    """A cache whose JSON does not say its rows are the corpus's distinct sentences (written
    before repeats were dropped) would misalign rows and sentences: refused, naming the file."""
    from distilface.train.teacher_cache import ROWS, load_teacher_cache

    npy = _minilm_cache(corpus, tmp_path / "tc.npy")
    meta_path = npy.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    assert meta["rows"] == ROWS
    del meta["rows"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"tc\.json: rows are 'every non-empty line'.*delete"):
        load_teacher_cache(npy, corpus)


def test_a_collapsed_run_is_never_kept_as_best(student, corpus, dev, tmp_path):
    """learning_rate 1e3: the loss stays finite and flat and every dev score falls below 0.
    Without a start score to keep, nothing is saved (an error says why); with one, the start
    is kept and the collapse is recorded."""
    from distilface.train.loop import TrainingCollapsedError

    bad = dict(learning_rate=1e3, eval_at_start=False)
    with pytest.raises(TrainingCollapsedError, match=r"every STS-B dev scoring found a collapsed"):
        train(_cfg(student, corpus, tmp_path / "collapsed", **bad), dev=dev)
    assert not (tmp_path / "collapsed").exists()
    out = train(_cfg(student, corpus, tmp_path / "kept", learning_rate=1e3, eval_at_start=True),
                dev=dev)  # fmt: skip
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["best_step"] == 0 and summary["best_is_start"]
    assert summary["collapsed_steps"] == [3, 6, 8] and summary["last_stsb_dev"] <= 0


def test_tensorboard_gets_every_logged_number_live(student, corpus, dev, tmp_path):
    """tensorboard: true mirrors train_log.jsonl into TensorBoard events (tag train/<key> at
    each record's step), readable by TensorBoard's own reader; off by default."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = tmp_path / "tb"
    cfg = _cfg(student, corpus, tmp_path / "out", max_steps=6, tensorboard=True,
               tensorboard_dir=str(board))  # fmt: skip
    out = train(cfg, dev=dev)
    events = EventAccumulator(str(board))
    events.Reload()
    log = _log(out)
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [r["step"] for r in log if r["loss"] is not None]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in log if r["loss"]])
    dev_steps = [e.step for e in events.Scalars("train/stsb_dev")]
    assert dev_steps == [r["step"] for r in log if r["stsb_dev"] is not None]
    assert "train/lr" in events.Tags()["scalars"]
    plain = train(_cfg(student, corpus, tmp_path / "plain", max_steps=2), dev=None)
    assert not any(plain.rglob("events.out.tfevents*"))
