"""Experiment-grid expansion over the real config files."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from distilface.plan import grid

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def _load(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml", "cpu.yaml", "ci.yaml", "gpu.yaml"])
def test_configs_validate_and_expand(name):
    config = _load(name)
    jsonschema.validate(config, _load("schema.yaml"))
    runs = grid.expand_grid(config)
    ids = [r.model_id for r in runs]
    assert len(ids) == len(set(ids))
    for r in runs:
        assert grid.model_dir_for(config, r.model_id)
        if r.trained:
            kwargs = grid.train_config_kwargs(config, r)
            assert kwargs["seed"] == r.seed and kwargs["objective"] == r.objective
            hp = grid.parse_slug(r.hparams)
            assert set(grid.hparams_of(r.objective)) <= set(hp)
            assert hp == {k: kwargs[k] for k in hp}


def test_full_config_run_count():
    config = _load("config.yaml")
    runs = grid.expand_grid(config)
    # simcse-unsup: 1 default + extra values per axis (the default value is not run twice):
    # temperature 4, pooling 2, batch_size 4, learning_rate 2, dropout 6, max_seq_length 1,
    # seeds 2 -> 22; disco-ckd: 3 seeds + queue_size 2 + temperature 1 + learn_temperature 1
    # -> 7; disco-kd, disco-kd-ft, disco-ckd-ft: 3 seeds each; baseline, simcse-sup: 1 -> 40
    assert len(runs) == 40
    assert len(grid.trained_model_ids(config)) == 39
    assert grid.all_model_ids(config)[0] == "baseline/untrained/seed0"
    by_variant: dict[str, int] = {}
    for r in runs:
        by_variant[r.variant] = by_variant.get(r.variant, 0) + 1
    assert by_variant == {
        "baseline": 1,
        "simcse-unsup": 22,
        "simcse-sup": 1,
        "disco-kd": 3,
        "disco-ckd": 7,
        "disco-kd-ft": 3,
        "disco-ckd-ft": 3,
    }


def test_slug_ids_dirs_and_fine_tune_chain():
    config = _load("config.yaml")
    unsup = grid.run_for(config, "simcse-unsup/t0.05_bs64_lr3e-05_do0.1_len32_cls/seed42")
    assert unsup.eval_pooling == "cls_before_pooler"
    base = grid.run_for(config, "baseline/untrained/seed0")
    assert base.eval_pooling == "cls_before_pooler"  # its own pooling: config variants.baseline
    other = {**config, "variants": {"b": {**config["variants"]["baseline"], "pooling": "avg_top2"}}}
    assert grid.expand_grid({**other, "ablations": {}})[0].eval_pooling == "avg_top2"
    assert grid.model_dir_for(config, unsup.model_id) == f"results/models/{unsup.model_id}"
    kw = grid.train_config_kwargs(config, unsup)
    assert kw["student"] == "distilbert-base-uncased" and kw["eval_every"] == 125
    assert kw["learning_rate"] == 3e-5 and kw["batch_size"] == 64 and kw["epochs"] == 1
    ft = next(r for r in grid.expand_grid(config) if r.variant == "disco-ckd-ft")
    parent = next(r for r in grid.expand_grid(config) if r.variant == "disco-ckd")
    assert ft.init_from == parent.model_id
    inputs = grid.train_inputs(config, ft)
    assert inputs["student"] == f"results/models/{parent.model_id}"
    assert grid.train_inputs(config, parent)["teacher_cache"] == (
        "results/teacher_cache/simcse-roberta-large/wiki1m.npy"
    )
    assert grid.teacher_caches(config) == [("simcse-roberta-large", "wiki1m")]
    base = grid.run_for(config, "baseline/untrained/seed0")
    assert not base.trained and grid.model_dir_for(config, base.model_id) == (
        "distilbert-base-uncased"
    )


def test_cpu_config_limits_the_generic_corpus_and_quick_is_its_seed_42_slice():
    config = _load("cpu.yaml")
    assert grid.data_spec(config, "wiki1m-head") == (
        "results/data/corpus/wiki1m_for_simcse.txt",
        3200,
    )
    for run in grid.expand_grid(config):
        if run.trained and run.data == "wiki1m-head":
            assert grid.train_config_kwargs(config, run)["corpus_limit"] == 3200
        elif run.trained:  # the whole 15,320-sentence corpus, and all 259 SICK triplets
            assert grid.train_config_kwargs(config, run).get("corpus_limit") is None
    # the item-6 runs on wiki1m were cut for time: every DisCo run reads the in-domain corpus
    assert grid.teacher_caches(config) == [("mpnet-base", "stsb-sick-train")]
    # every quick run is the cpu study's run of the same id, with the same training kwargs
    quick = _load("quick.yaml")
    study = {r.model_id: r for r in grid.expand_grid(config)}
    runs = grid.expand_grid(quick)
    assert {r.student for r in runs if not r.trained} == {"random-l3", "minilm-l3", "m2v-mpnet"}
    for sid in ("random-l3", "minilm-l3", "m2v-mpnet"):  # the same students, built alike
        assert quick["training"]["students"][sid] == config["training"]["students"][sid]
    for run in runs:
        assert run.model_id in study, run.model_id
        if run.trained:
            assert grid.train_config_kwargs(quick, run) == grid.train_config_kwargs(
                config, study[run.model_id]
            )
    assert {r.seed for r in runs if r.trained} == {42}
    assert quick["training"]["students"] == config["training"]["students"]


def test_slug_round_trip():
    hp = {
        "pooling": "cls_before_pooler",
        "temperature": 0.001,
        "batch_size": 512,
        "learning_rate": 5e-5,
        "dropout": 0.0,
        "max_seq_length": 64,
    }
    slug = grid.hparams_slug(hp)
    assert slug == "t0.001_bs512_lr5e-05_do0_len64_cls-before-pooler"
    assert grid.parse_slug(slug) == hp
    with pytest.raises(grid.GridError):
        grid.parse_slug("nonsense")
    # CKD's own hparams enter the slug only when set (other runs keep their ids)
    ckd = {**hp, "queue_size": 65536, "learn_temperature": True}
    slug = grid.hparams_slug(ckd)
    assert slug == "t0.001_bs512_lr5e-05_do0_len64_cls-before-pooler_q65536_lt"
    assert grid.parse_slug(slug) == ckd
    assert grid.hparams_slug({**hp, "queue_size": 0, "learn_temperature": False}) == (
        "t0.001_bs512_lr5e-05_do0_len64_cls-before-pooler"
    )


def test_slug_without_temperature_round_trips():
    hp = {"pooling": "avg", "batch_size": 64, "learning_rate": 5e-5, "dropout": 0.1}
    hp["max_seq_length"] = 64
    slug = grid.hparams_slug(hp)
    assert slug == "bs64_lr5e-05_do0.1_len64_avg"
    assert grid.parse_slug(slug) == hp


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml", "cpu.yaml", "gpu.yaml"])
def test_disco_kd_declares_no_temperature_and_its_id_carries_none(name):
    """disco_kd's MSE loss reads no temperature: its runs neither declare one nor carry one in
    their id; every run whose loss reads it keeps ``t{temperature}_`` (ids unchanged)."""
    config = _load(name)
    runs = grid.expand_grid(config)
    kd = [r for r in runs if r.objective == "disco_kd"]
    assert kd and all(not r.hparams.startswith("t") for r in kd)
    assert all(r.hparams.startswith("bs") and "temperature" not in r.params for r in kd)
    others = [r for r in runs if r.trained and r.objective != "disco_kd"]
    assert others and all(r.hparams.startswith("t") for r in others)
    # a fine-tune of a KD run starts from the KD run's new folder
    ft = [r for r in runs if r.init_from and r.init_from.startswith("disco-kd/")]
    assert all(r.init_from in {k.model_id for k in kd} for r in ft)
    assert ft or name in ("quick.yaml", "cpu.yaml")  # these fine-tune only CKD students


def test_temperature_is_required_where_read_and_refused_where_not():
    config = _load("quick.yaml")
    kd = config["variants"]["kd-random"]
    with_t = {**kd, "hparams": {**kd["hparams"], "temperature": 0.05}}
    with pytest.raises(
        grid.GridError, match=r"variants\.kd-random\.hparams\.temperature: disco_kd"
    ):
        grid.expand_grid({**config, "variants": {**config["variants"], "kd-random": with_t}})
    ablated = {**config, "ablations": {"kd-random": {"temperature": [0.1]}}}
    with pytest.raises(grid.GridError, match="temperature: disco_kd does not read it"):
        grid.expand_grid(ablated)
    unsup = config["variants"]["simcse-random"]
    hp = {k: v for k, v in unsup["hparams"].items() if k != "temperature"}
    without = {**config["variants"], "simcse-random": {**unsup, "hparams": hp}}
    with pytest.raises(grid.GridError, match=r"missing \['temperature'\]"):
        grid.expand_grid({**config, "variants": without})


def test_queue_size_is_refused_where_no_loss_reads_it():
    config = _load("config.yaml")
    v = config["variants"]["simcse-unsup"]
    variants = {
        **config["variants"],
        "simcse-unsup": {**v, "hparams": {**v["hparams"], "queue_size": 8}},
    }
    with pytest.raises(grid.GridError, match="variants.simcse-unsup.hparams.queue_size"):
        grid.expand_grid({**config, "variants": variants, "ablations": {}})
    runs = grid.expand_grid(config)
    queues = {r.params.get("queue_size") for r in runs if r.variant == "disco-ckd"}
    assert queues == {0, 4096, 65536}  # the ablation axis over the authors' 65,536


def test_config_errors_name_the_key():
    config = _load("config.yaml")
    bad = {**config, "ablations": {"simcse-unsup": {"warmup": [0.1]}}}
    with pytest.raises(grid.GridError, match="ablations.simcse-unsup.warmup"):
        grid.expand_grid(bad)
    bad = {**config, "ablations": {"nope": {"seeds": [1]}}}
    with pytest.raises(grid.GridError, match="ablations.nope"):
        grid.expand_grid(bad)
    variants = {
        **config["variants"],
        "x": {**config["variants"]["disco-kd-ft"], "init_from": "missing"},
    }
    with pytest.raises(grid.GridError, match="variants.x.init_from"):
        grid.expand_grid({**config, "variants": variants})
    with pytest.raises(grid.GridError, match="not in the grid"):
        grid.run_for(config, "simcse-unsup/t9_bs1_lr1_do0_len1_cls/seed1")
