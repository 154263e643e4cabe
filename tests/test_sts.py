"""SimCSE/SentEval scoring on constructed cases, and evaluate_model end to end on a tiny tree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from test_encoders import build_tiny_model

from distilface.core.io import json_safe
from distilface.core.names import STS_TASKS
from distilface.data.readers import (
    SICK_DIR,
    SICK_FILES,
    STS_DIRS,
    STS_SUBSETS,
    STSB_DIR,
    STSB_FILES,
    senteval_text,
)
from distilface.evaluate.encoders import Encoder
from distilface.evaluate.scoring import (
    average,
    correlations,
    cosine_scores,
    score_pairs,
    score_similarities,
)
from distilface.evaluate.sts import evaluate_model


def pairs_with_cosines(cosines: list[float], scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """2-d embeddings: e1 = (1, 0) * scale, e2 = unit vector at angle arccos(c)."""
    theta = np.arccos(np.asarray(cosines))
    e1 = np.tile([scale, 0.0], (len(cosines), 1))
    e2 = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return e1.astype(np.float32), e2.astype(np.float32)


def test_cosine_of_known_angles_ignores_norms() -> None:
    target = [0.9, 0.5, 0.0, -0.3, -1.0]
    e1, e2 = pairs_with_cosines(target, scale=3.0)
    cos = cosine_scores(e1, e2)
    assert cos.dtype == np.float64
    np.testing.assert_allclose(cos, target, atol=1e-6)
    # SentEval: a zero vector gives NaN, which nan_to_num turns into 0
    assert cosine_scores(np.zeros((1, 2)), np.ones((1, 2)))[0] == 0.0
    with pytest.raises(ValueError, match="equal 2-d"):
        cosine_scores(e1, e2[:2])


def test_correlations_by_hand_and_scipy() -> None:
    system = np.array([1.0, 2.0, 3.0, 4.0])
    gold = np.array([1.0, 3.0, 2.0, 4.0])
    spear, pear = correlations(system, gold)
    # Spearman = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8
    assert spear == pytest.approx(80.0)
    assert pear == pytest.approx(80.0)  # values are their own ranks here
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    spear, pear = correlations(x, y)
    assert spear == pytest.approx(100 * spearmanr(x, y).statistic)
    assert pear == pytest.approx(100 * pearsonr(x, y).statistic)
    assert all(math.isnan(v) for v in correlations(np.array([1.0]), np.array([2.0])))


def test_all_differs_from_wmean_and_both_match_hand_computation() -> None:
    # subset A (4 pairs): cosine increases with gold -> Spearman +100
    # subset B (3 pairs): cosine decreases with gold -> Spearman -100
    cos_a, gold_a = [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]
    cos_b, gold_b = [0.8, 0.7, 0.6], [1.0, 2.0, 3.0]
    e1, e2 = pairs_with_cosines(cos_a + cos_b, scale=2.0)
    gold = np.array(gold_a + gold_b)
    subsets = ["A"] * 4 + ["B"] * 3
    res = score_pairs(e1, e2, gold, subsets)

    assert res["n"] == 7
    assert res["subsets"]["A"] == {
        "n": 4,
        "spearman": pytest.approx(100.0),
        "pearson": pytest.approx(100.0),
    }
    assert res["subsets"]["B"]["spearman"] == pytest.approx(-100.0)
    # wmean = (4 * 100 + 3 * -100) / 7 (the unweighted mean would be 0)
    assert res["spearman"]["wmean"] == pytest.approx(100.0 / 7)
    # "all": one Spearman over the concatenation = Pearson of the rank vectors
    cos_ranks = np.array([1, 2, 3, 4, 7, 6, 5], dtype=float)
    gold_ranks = np.array([1.5, 3.5, 5.5, 7, 1.5, 3.5, 5.5])  # ties get the mean rank
    dc, dg = cos_ranks - cos_ranks.mean(), gold_ranks - gold_ranks.mean()
    by_hand = 100 * (dc @ dg) / np.sqrt((dc @ dc) * (dg @ dg))
    assert res["spearman"]["all"] == pytest.approx(by_hand, abs=1e-9)
    assert abs(res["spearman"]["all"] - res["spearman"]["wmean"]) > 1.0
    cos = np.array(cos_a + cos_b)
    assert res["pearson"]["all"] == pytest.approx(100 * pearsonr(cos, gold).statistic, abs=1e-4)
    wmean_pearson = (4 * res["subsets"]["A"]["pearson"] + 3 * res["subsets"]["B"]["pearson"]) / 7
    assert res["pearson"]["wmean"] == pytest.approx(wmean_pearson)


def test_single_test_set_tasks_have_wmean_equal_all() -> None:
    rng = np.random.default_rng(1)
    cos, gold = rng.uniform(-1, 1, 40), rng.uniform(0, 5, 40)
    subsets = ["main-news"] * 25 + ["main-captions"] * 15
    res = score_similarities(cos, gold, subsets, subsets_are_datasets=False)
    assert res["spearman"]["wmean"] == res["spearman"]["all"]
    assert res["spearman"]["all"] == pytest.approx(100 * spearmanr(cos, gold).statistic)
    assert set(res["subsets"]) == {"main-news", "main-captions"}


def test_average_uses_the_chosen_aggregation() -> None:
    tasks = {
        "T1": {"spearman": {"all": 60.0, "wmean": 50.0}, "pearson": {"all": 1.0, "wmean": 2.0}},
        "T2": {"spearman": {"all": 80.0, "wmean": 70.0}, "pearson": {"all": 3.0, "wmean": 4.0}},
    }
    assert average(tasks, "all") == {"spearman": 70.0, "pearson": 2.0}
    assert average(tasks, "wmean") == {"spearman": 60.0, "pearson": 3.0}
    with pytest.raises(ValueError, match="aggregation"):
        average(tasks, "mean")


def test_nan_becomes_null_in_json() -> None:
    assert json_safe({"a": [math.nan, 1.0], "b": {"c": math.inf}}) == {
        "a": [None, 1.0],
        "b": {"c": None},
    }


# ---------------------------------------------------------------------------------------------
# end to end on a tiny SentEval-layout tree

WORDS = "a the man woman dog cat plays runs eats guitar ball food red big small".split()


def _sentence(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(2, 9))))


def build_senteval_tree(root: Path, pairs_per_set: int = 6) -> Path:
    """Real-layout STS12-16 / STS-B / SICK files with random sentences and gold scores.

    Each year repeats one sentence across tasks (dedupe) and one pair has a double space
    (SentEval's split/join normalisation)."""
    rng = np.random.default_rng(0)
    for year, subsets in STS_SUBSETS.items():
        folder = root / STS_DIRS[year]
        folder.mkdir(parents=True)
        for subset in subsets:
            lines = [f"{_sentence(rng)}\t{_sentence(rng)}" for _ in range(pairs_per_set)]
            lines[0] = "a  man plays guitar\tthe dog runs"
            gold = [f"{g:.2f}" for g in rng.uniform(0, 5, pairs_per_set)]
            (folder / f"STS.input.{subset}.txt").write_text("\n".join(lines) + "\n")
            (folder / f"STS.gs.{subset}.txt").write_text("\n".join(gold) + "\n")
    stsb = root / STSB_DIR
    stsb.mkdir(parents=True)
    for name in STSB_FILES.values():
        rows = [
            f"{g}\tf\t2012\t{i:04d}\t{rng.uniform(0, 5):.3f}\t{_sentence(rng)}\t{_sentence(rng)}"
            for i, g in enumerate(["main-news", "main-captions"] * (pairs_per_set // 2))
        ]
        (stsb / name).write_text("\n".join(rows) + "\n")
    sick = root / SICK_DIR
    sick.mkdir(parents=True)
    header = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"
    for name in SICK_FILES.values():
        rows = [
            f"{i}\t{_sentence(rng)}\t{_sentence(rng)}\t{rng.uniform(1, 5):.1f}\t{label}"
            for i, label in enumerate(
                ["NEUTRAL", "ENTAILMENT", "CONTRADICTION"] * (pairs_per_set // 3)
            )
        ]
        (sick / name).write_text("\n".join([header, *rows]) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_eval(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("e2e")
    return {
        "model": build_tiny_model(base / "model", pooler="none"),
        "senteval": build_senteval_tree(base / "senteval"),
        "base": base,
    }


def test_evaluate_model_end_to_end(
    tiny_eval: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    original = Encoder.encode_multi

    def counting(self: Encoder, sentences: list[str], *args: object, **kwargs: object) -> object:
        encoded.append(len(sentences))
        return original(self, sentences, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_multi", counting)
    out = tiny_eval["base"] / "eval" / "tiny"
    cache = tiny_eval["base"] / "cache"
    poolings = ["cls", "cls_before_pooler", "avg", "avg_first_last", "avg_top2"]
    paths = evaluate_model(
        "tiny",
        tiny_eval["model"],
        poolings,
        tiny_eval["senteval"],
        out,
        cache_dir=cache,
        progress=False,
    )
    assert set(paths) == set(poolings) and len(encoded) == 1  # one pass serves 4 poolings

    skipped = json.loads(paths["cls"].read_text())
    assert "pooler.dense.weight" in skipped["skipped"] and "tasks" not in skipped
    skipped_npz = np.load(out / "cls.scores.npz")
    assert list(skipped_npz.keys()) == ["skipped"]  # no score can be read from a skipped pooling

    res = json.loads(paths["avg"].read_text())
    assert [res[k] for k in ("model", "pooling", "aggregation")] == ["tiny", "avg", "all"]
    assert list(res["tasks"]) == list(STS_TASKS)
    meta = res["meta"]
    assert meta["embedding_dim"] == 32 and meta["device"] == "cpu" and meta["params"] > 0
    assert meta["sentences_encoded"] == encoded[0]
    assert set(meta["versions"]) >= {"torch", "transformers", "numpy", "scipy", "distilface"}
    assert "git_commit" in meta
    means = {
        m: np.mean([res["tasks"][t][m]["all"] for t in STS_TASKS]) for m in ("spearman", "pearson")
    }
    assert res["avg"]["spearman"] == pytest.approx(means["spearman"])
    assert res["avg"]["pearson"] == pytest.approx(means["pearson"])
    assert res["tasks"]["STSBenchmark"]["split"] == "test"
    assert res["tasks"]["SICKRelatedness"]["n"] == 6 and res["stsb_dev"]["n"] == 6

    # the npz holds the per-pair cosines the JSON scores were computed from
    from distilface.data.readers import load_task

    npz = np.load(out / "avg.scores.npz")
    pairs = load_task("STS12", tiny_eval["senteval"])
    enc = Encoder.load(tiny_eval["model"], device="cpu")
    e1 = original(enc, [senteval_text(s) for s in pairs.sent1], ["avg"], progress=False)["avg"]
    e2 = original(enc, [senteval_text(s) for s in pairs.sent2], ["avg"], progress=False)["avg"]
    np.testing.assert_allclose(npz["STS12__cos"], cosine_scores(e1, e2), atol=1e-6)
    np.testing.assert_array_equal(npz["STS12__gold"], pairs.gold)
    assert list(npz["STS12__subset"]) == pairs.subsets
    expected = 100 * spearmanr(npz["STS12__cos"], npz["STS12__gold"]).statistic
    assert res["tasks"]["STS12"]["spearman"]["all"] == pytest.approx(expected)

    # a re-run (other aggregation) is served from the cache: no forward pass
    encoded.clear()
    again = evaluate_model(
        "tiny",
        tiny_eval["model"],
        ["avg"],
        tiny_eval["senteval"],
        out / "w",
        aggregation="wmean",
        cache_dir=cache,
        progress=False,
    )
    assert encoded == []
    res_w = json.loads(again["avg"].read_text())
    assert res_w["meta"]["from_cache"] == ["avg"]
    assert res_w["tasks"] == res["tasks"]
    wmeans = np.mean([res["tasks"][t]["spearman"]["wmean"] for t in STS_TASKS])
    assert res_w["avg"]["spearman"] == pytest.approx(wmeans)


def test_evaluate_model_rejects_bad_arguments(tiny_eval: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="unknown pooling"):
        evaluate_model("t", tiny_eval["model"], ["mean"], tiny_eval["senteval"], tiny_eval["base"])
    with pytest.raises(ValueError, match="aggregation"):
        evaluate_model(
            "t",
            tiny_eval["model"],
            ["avg"],
            tiny_eval["senteval"],
            tiny_eval["base"],
            aggregation="mean",
        )
