"""Model cards: the release folder's README states what the model is and how it scores."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import yaml

from distilface.core.names import STS_TASKS
from distilface.report.modelcard import release_targets, write_release

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "results/reference/gpu-h100/raw_results.tar.gz"
MODEL = "disco-ckd-ft/t0.05_bs64_lr3e-05_do0.1_len32_avg/seed43"


@pytest.fixture()
def gpu_run(tmp_path):
    """A real trained run of the GPU reference: its summary, log and avg eval JSON (the
    weights are not in the bundle: a stand-in file takes their place)."""
    wanted = {
        f"results/models/{MODEL}/train_summary.json",
        f"results/models/{MODEL}/train_log.jsonl",
        f"results/eval/{MODEL}/avg.json",
    }
    with tarfile.open(RAW) as tar:
        members = [m for m in tar.getmembers() if m.name in wanted]
        tar.extractall(tmp_path, members=members, filter="data")
    model_dir = tmp_path / "results/models" / MODEL
    (model_dir / "model.safetensors").write_bytes(b"\0" * 2048)
    (model_dir / "README.md").write_text("generic sentence-transformers card")
    (model_dir / "1_Pooling").mkdir()
    (model_dir / "1_Pooling/config.json").write_text("{}")
    (model_dir / ".snakemake_timestamp").write_text("")
    return model_dir, tmp_path / "results/eval" / MODEL / "avg.json"


def test_card_states_training_and_scores(gpu_run, tmp_path):
    model_dir, eval_json = gpu_run
    config = yaml.safe_load((REPO / "results/reference/gpu-h100/config.yaml").read_text())
    out = tmp_path / "release" / MODEL
    readme = write_release(model_dir, eval_json, config, out).read_text()
    summary = json.loads((model_dir / "train_summary.json").read_text())
    scores = json.loads(eval_json.read_text())
    assert "generic sentence-transformers card" not in readme
    assert "# DisCo CKD → unsup. SimCSE" in readme
    assert "unsupervised SimCSE: InfoNCE" in readme  # objective
    assert "disco-ckd/t0.05_bs64_lr0.0001_do0.1_len32_avg/seed43" in readme  # start point
    assert "**Seed:** 43" in readme and "| learning_rate | 3e-05 |" in readme
    assert f"{summary['wall_s']:.1f} s on cuda" in readme
    assert "wiki1m_for_simcse.txt" in readme  # data
    for task in STS_TASKS:
        assert f"{scores['tasks'][task]['spearman']['all']:.2f}" in readme
    assert f"{scores['avg']['spearman']:.2f}" in readme and "SICK-R 4,927" in readme
    assert 'SentenceTransformer("path/to/this/folder")' in readme
    # the weights are hard links of the trained folder, not copies
    assert (out / "model.safetensors").stat().st_ino == (
        model_dir / "model.safetensors"
    ).stat().st_ino
    assert (out / "1_Pooling/config.json").is_file() and (out / "eval_avg.json").is_file()
    # Snakemake's directory timestamp is not shared: touching the release's own must not
    # make the trained folder look updated (that re-ran the whole workflow)
    assert not (out / ".snakemake_timestamp").exists()


def test_card_data_sizes_from_the_corpus(gpu_run, tmp_path, monkeypatch):
    model_dir, eval_json = gpu_run
    summary = json.loads((model_dir / "train_summary.json").read_text())
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"sentence {i}\n" for i in range(50)))
    summary["config"]["data"] = str(corpus)
    summary["config"]["corpus_limit"] = 32
    (model_dir / "train_summary.json").write_text(json.dumps(summary))
    readme = write_release(model_dir, eval_json, {}, tmp_path / "rel").read_text()
    assert "the first 32 of its 50 lines" in readme


def test_missing_summary_is_named(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(FileNotFoundError, match="train_summary.json"):
        write_release(tmp_path / "m", tmp_path / "x.json", {}, tmp_path / "out")


def test_release_targets_cover_every_trained_run():
    from distilface.plan.grid import expand_grid

    config = yaml.safe_load((REPO / "config/quick.yaml").read_text())
    targets = release_targets(config)
    trained = {r.model_id for r in expand_grid(config) if r.trained}
    assert trained and set(targets) == {f"results/release/{m}" for m in trained}
    assert not any("untrained" in t for t in targets)


def test_card_front_matter_is_hub_metadata(gpu_run, tmp_path):
    """The front matter is what the Hub reads: licence (the data's terms over the whole
    lineage), base model, datasets, language and a model-index with the seven scores; a
    stage-2 card names the stage-1 teacher."""
    model_dir, eval_json = gpu_run
    config = yaml.safe_load((REPO / "results/reference/gpu-h100/config.yaml").read_text())
    readme = write_release(model_dir, eval_json, config, tmp_path / "rel").read_text()
    meta = yaml.safe_load(readme.split("---\n")[1])
    scores = json.loads(eval_json.read_text())
    assert meta["license"] == "cc-by-sa-3.0"  # wiki1m (English Wikipedia text) only
    assert meta["language"] == "en" and meta["library_name"] == "sentence-transformers"
    assert meta["datasets"] == ["princeton-nlp/datasets-for-simcse"]
    results = meta["model-index"][0]["results"]
    assert [r["dataset"]["type"] for r in results][:2] == ["mteb/sts12-sts", "mteb/sts13-sts"]
    assert len(results) == 7 and results[6]["metrics"][0]["value"] == round(
        scores["tasks"]["SICKRelatedness"]["spearman"]["all"], 2
    )
    assert "**Teacher:** none in this stage; its start point was distilled from" in readme


def test_a_sick_trained_card_carries_sicks_licence_and_counts_triplets(gpu_run, tmp_path):
    model_dir, eval_json = gpu_run
    summary = json.loads((model_dir / "train_summary.json").read_text())
    triplets = tmp_path / "sick_train_triplets.csv"
    triplets.write_text("sent0,sent1,hard_neg\n" + "a,b,c\n" * 259)
    summary["config"]["data"] = str(triplets)
    (model_dir / "train_summary.json").write_text(json.dumps(summary))
    readme = write_release(model_dir, eval_json, {}, tmp_path / "rel").read_text()
    meta = yaml.safe_load(readme.split("---\n")[1])
    assert meta["license"] == "cc-by-nc-sa-3.0" and meta["datasets"] == ["RobZamp/sick"]
    assert "all 259 triplets" in readme


def test_a_static_students_card_names_its_teacher_as_base_and_tags_model2vec(gpu_run, tmp_path):
    """A model whose lineage starts from a model2vec student: base_model = the teacher its token
    vectors were distilled from, tagged model2vec / static-embeddings."""
    model_dir, eval_json = gpu_run
    config = yaml.safe_load((REPO / "results/reference/gpu-h100/config.yaml").read_text())
    config["training"]["students"]["minilm-l3"] = {
        "from_model2vec": {"teacher": "bundled:all-mpnet-base-v2", "pca_dims": 256}
    }
    readme = write_release(model_dir, eval_json, config, tmp_path / "rel").read_text()
    meta = yaml.safe_load(readme.split("---\n")[1])
    assert meta["base_model"] == "sentence-transformers/all-mpnet-base-v2"
    assert {"model2vec", "static-embeddings"} <= set(meta["tags"])
