"""Benchmark helpers (timing, child-process memory, scoring) and smoke runs of two benchmarks."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from harness import (
    machine_info,
    markdown_table,
    resolve_device,
    run_child,
    score_encoder,
    summarize,
    write_json_atomic,
)
from scipy.stats import spearmanr

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_factory) -> Path:
    """A random-init 2-layer BERT (hidden 32) with the real bert-base-uncased tokenizer."""
    return tiny_bert_factory(32)


def test_summarize_median_and_bounds() -> None:
    assert summarize([3.0, 1.0, 2.0, 10.0]) == {"median": 2.5, "min": 1.0, "max": 10.0, "n": 4}
    with pytest.raises(ValueError):
        summarize([])


def test_resolve_device_rejects_unknown_and_missing_cuda() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            resolve_device("cuda")


def test_machine_info_records_cpu_threads_versions() -> None:
    info = machine_info("cpu")
    assert info["cores"] >= 1 and info["torch_threads"] >= 1
    assert info["versions"]["torch"] == torch.__version__.split("+")[0] or info["versions"]["torch"]
    assert len(info["load_average"]) == 3 and info["cpu_model"]


def test_run_child_reports_its_own_peak_rss(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(
        "import json, sys\n"
        "block = bytearray(300 * 2**20)\n"  # 300 MiB, touched by the zero fill
        "json.dump({'ok': len(block)}, open(sys.argv[sys.argv.index('--result') + 1], 'w'))\n"
    )
    small = tmp_path / "small.py"
    small.write_text(
        "import json, sys\n"
        "json.dump({'ok': 1}, open(sys.argv[sys.argv.index('--result') + 1], 'w'))\n"
    )
    big_run = run_child([str(script)])
    small_run = run_child([str(small)])  # measured after the big one: must not inherit its peak
    assert big_run["ok"] == 300 * 2**20 and big_run["returncode"] == 0
    assert big_run["peak_rss_mib"] > 290
    assert small_run["peak_rss_mib"] < 100
    assert big_run["process_wall_s"] > 0


def test_run_child_failure_shows_stderr(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("raise SystemExit('boom from the child')\n")
    with pytest.raises(RuntimeError, match="boom from the child"):
        run_child([str(script)])


def test_write_json_atomic_and_table(tmp_path: Path) -> None:
    path = write_json_atomic(tmp_path / "a" / "r.json", {"x": 1.5})
    assert json.loads(path.read_text()) == {"x": 1.5}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
    table = markdown_table([{"a": 1.23456, "b": None}, {"a": 1234.5, "b": "x"}], ["a", "b"])
    assert table.splitlines()[2] == "| 1.235 |  |"
    assert table.splitlines()[3] == "| 1234.5 | x |"


def test_score_encoder_matches_pairwise_scoring(tiny_model: Path, shared_data: Path) -> None:
    from distilface.data.readers import load_task, senteval_text
    from distilface.evaluate.encoders import Encoder

    encoder = Encoder.load(str(tiny_model), device="cpu")
    result = score_encoder(encoder, shared_data / "senteval", ["STS16"])
    pairs = load_task("STS16", shared_data / "senteval")
    e1 = encoder.encode([senteval_text(s) for s in pairs.sent1], "avg", progress=False)
    e2 = encoder.encode([senteval_text(s) for s in pairs.sent2], "avg", progress=False)
    cos = (e1 * e2).sum(1) / (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1))
    expected = 100 * spearmanr(cos, pairs.gold).statistic
    # different batch composition (padding) moves float32 sums slightly; nothing more
    assert result["tasks"]["STS16"] == pytest.approx(expected, abs=0.01)
    assert result["n_pair_sentences"] == 2 * len(pairs) > result["n_unique"]


def test_bench_eval_smoke_ours_and_st_agree(
    tiny_model: Path, shared_data: Path, tmp_path: Path
) -> None:
    bench_eval = _load_script("bench_eval")
    out = tmp_path / "eval.json"
    code = bench_eval.main(
        ["--device", "cpu", "--model", str(tiny_model), "--senteval-root",
         str(shared_data / "senteval"), "--tasks", "STS16", "--repeats", "1",
         "--out", str(out)]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert code == 0 and result["spearman_agree"] is True
    assert set(result["summary"]) == {"ours", "st", "ours_cached"}
    assert result["runs"]["ours_cached"][0]["from_cache"] == ["avg"]
    assert all(s["peak_rss_mib"] > 50 for s in result["summary"].values())
    assert result["machine"]["torch_threads"] >= 1


def test_bench_train_smoke(tiny_model: Path, shared_data: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH_DIR))
    bench_train = _load_script("bench_train")
    out = tmp_path / "train.json"
    code = bench_train.main(
        ["--device", "cpu", "--model", str(tiny_model), "--student", "full",
         "--senteval-root", str(shared_data / "senteval"), "--corpus", str(tmp_path / "none"),
         "--repeats", "1", "--steps", "2", "--warmup-steps", "1", "--batch-size", "4",
         "--max-length", "16", "--out", str(out), "--arms", "st,ours_pad8,ours_bucket"]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert code == 0
    assert list(result["summary"]) == ["ours", "st", "ours_pad8", "ours_bucket"]
    for arm in ("ours", "st", "ours_pad8", "ours_bucket"):
        run = result["runs"][arm][0]
        assert run["timed_steps"] == 2 and len(run["step_s"]) == 2
        assert run["steps_per_s"] > 0
    settings = result["settings"]
    assert 0 < settings["params_matmul"] < settings["params"]
    for arm in ("ours", "ours_pad8", "ours_bucket"):
        s = result["summary"][arm]
        assert 8 <= s["tokens_per_step"] <= 2 * 4 * 16  # 2 views x batch 4 x <= 16 tokens
        assert s["tflops"] > 0 and s["ratio_to_ours"] > 0
    assert result["summary"]["ours_pad8"]["tokens_per_step"] % 8 == 0
    assert result["summary"]["st"]["tflops"] is None
    assert result["summary"]["ours"]["ratio_to_ours"] == 1.0


def test_roofline_counts_the_step_flops_of_a_transformer(
    tiny_model: Path, shared_data: Path
) -> None:
    """FLOPs of our SimCSE step (forward + backward) = 3 x the analytic forward GEMM count
    (linear layers 2*T*(4h^2 + 2hi), attention 4*N*L^2*h per layer); the rate is positive."""
    import argparse

    roofline = _load_script("bench_roofline")
    args = argparse.Namespace(batch_size=8, max_length=16, device="cpu")
    corpus = shared_data / "corpus" / "wiki1m_for_simcse.head.txt"
    step = roofline.train_step_flops(args, tiny_model, corpus)
    n, length = step["batch_shape"]
    assert n == 16 and step["tokens"] == n * length
    h, i, layers = step["hidden"], step["intermediate"], 2
    forward = layers * (2 * n * length * (4 * h * h + 2 * h * i) + 4 * n * length**2 * h)
    assert step["flops"] == pytest.approx(3 * forward, rel=0.02)
    rate = roofline.matmul_rate("cpu", torch.float32, 64, 64, 64, repeats=2)
    assert rate["best"] >= rate["median"] > 0
