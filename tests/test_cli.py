"""``distilface evaluate``: the CLI scores a real model with the workflow's evaluator and writes
our eval JSON and MTEB result files that the ``mteb`` package loads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_eval

from distilface.cli import default_name, main
from distilface.core.names import STS_TASKS
from distilface.evaluate.mteb_export import MTEB_TASK_NAMES, write_mteb_results

REPO = Path(__file__).resolve().parents[1]


def small_senteval(shared_data: Path, out: Path, pairs: int = 40) -> Path:
    """The real SentEval files cut to their first ``pairs`` lines (SICK: + header). 40 keeps at
    least two distinct gold scores in every STS subset (at 24, STS16 answer-answer has one, its
    Spearman is undefined and the scorer rightly refuses it)."""
    src = shared_data / "senteval"
    for f in src.rglob("*"):
        if f.is_file():
            dst = out / f.relative_to(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            lines = f.read_bytes().split(b"\n")
            keep = pairs + 1 if f.parent.name == "SICK" else pairs
            dst.write_bytes(b"\n".join(lines[:keep]) + b"\n")
    return out


def _load_with_mteb(root: Path, name: str) -> dict[str, float]:
    from mteb.cache import ResultCache

    results = ResultCache(cache_path=root).load_results(
        models=[name], require_model_meta=True, validate_and_filter=True
    )
    (model,) = results.model_results
    return {t.task_name: float(t.get_score()) for t in model.task_results}


def test_mteb_export_is_read_by_mteb(tmp_path):
    data = json.loads(write_eval(tmp_path / "eval", "m", "avg", noise=0.3).read_text())
    path = tmp_path / "eval" / "m" / "avg.json"
    files = write_mteb_results(path, tmp_path / "mteb", "local/m", "abc123")
    assert {f.name for f in files} == {"model_meta.json"} | {
        f"{n}.json" for n in MTEB_TASK_NAMES.values()
    }
    scores = _load_with_mteb(tmp_path / "mteb", "local/m")
    assert set(scores) == set(MTEB_TASK_NAMES.values())
    for task in STS_TASKS:
        expected = data["tasks"][task]["spearman"]["all"] / 100
        assert scores[MTEB_TASK_NAMES[task]] == pytest.approx(expected)
    sick = json.loads((files[0].parent / "SICK-R.json").read_text())
    assert "not comparable" in sick["scores"]["test"][0]["distilface"]["not_comparable_with_mteb"]


def test_default_names():
    assert default_name("bundled:all-MiniLM-L6-v2") == "bundled/all-MiniLM-L6-v2"
    assert default_name("princeton-nlp/unsup-simcse-bert-base-uncased").startswith("princeton")
    assert default_name(str(REPO)) == f"local/{REPO.name}"


@pytest.mark.slow
def test_evaluate_bundled_minilm_on_small_real_data(shared_data, tmp_path, capsys):
    data = small_senteval(shared_data, tmp_path / "senteval")
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            "bundled:all-MiniLM-L6-v2",
            "--data",
            str(data),
            "--out",
            str(out),
            "--format",
            "json",
            "mteb",
            "--quiet",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "avg.json").read_text())
    assert (
        result["tasks"]["STSBenchmark"]["n"] == 40
        and result["encoder"] == "bundled:all-MiniLM-L6-v2"
    )
    row = next(line for line in printed.splitlines() if line.strip().startswith("avg "))
    printed_scores = [float(v) for v in row.split()[1:]]
    expected = [result["tasks"][t]["spearman"]["all"] for t in STS_TASKS]
    dev = result["stsb_dev"]["spearman"]
    assert printed_scores == pytest.approx([*expected, result["avg"]["spearman"], dev], abs=0.006)
    scores = _load_with_mteb(out / "mteb", "bundled/all-MiniLM-L6-v2")
    assert scores["STS12"] == pytest.approx(expected[0] / 100)


def test_module_entry_point_and_missing_data(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "distilface", "evaluate", "x", "--data", str(tmp_path / "no")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "--data" in run.stderr and "no SentEval folder" in run.stderr


def test_quiet_shows_no_progress_bar_and_input_faults_are_one_line(tmp_path, capfd, monkeypatch):
    """--quiet silences the libraries' bars too; a missing folder under an existing parent, an
    unreachable hub name and --device cuda without CUDA are one-line errors (exit 2)."""
    import torch
    from tinydata import tiny_bert, write_mirror

    data = write_mirror(tmp_path / "mirror", pairs_per_subset=4) / "senteval"
    model = tiny_bert(tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    assert main(["evaluate", "--quiet", "--pooling", "avg", "cls_before_pooler", str(model),
                 "--data", str(data), "--out", "o"]) == 0  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "o").glob("*.json")) == [
        "avg.json", "cls_before_pooler.json"]  # fmt: skip
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err and "sent/s" not in err, err
    assert main(["evaluate", "models/my-simcse", "--data", str(data)]) == 2
    assert "error: models/my-simcse: no such folder" in capfd.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["evaluate", "nobody-x/nothing", "--data", str(data)]) == 2
    assert "error: model 'nobody-x/nothing': not a local folder" in capfd.readouterr().err
    if not torch.cuda.is_available():
        assert main(["evaluate", str(model), "--data", str(data), "--device", "cuda"]) == 2
        assert "error: device 'cuda' requested but CUDA is not available" in capfd.readouterr().err


def test_the_pooling_is_checked_and_model_may_follow_it(capsys):
    """``--pooling avg MODEL`` reads MODEL as the model (argparse would take it for a pooling);
    a misspelt pooling and a missing model are usage errors naming the argument."""
    from distilface.cli import _model_and_poolings, build_parser

    parser = build_parser()
    args = parser.parse_args(["evaluate", "--pooling", "avg", "cls", "bundled:x"])
    _model_and_poolings(parser, args)
    assert args.model == "bundled:x" and args.pooling == ["avg", "cls"]
    for argv, message in (
        (["evaluate", "m", "--pooling", "mean"], "invalid choice 'mean'"),
        (["evaluate", "--pooling", "avg"], "required: model"),
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_tasks_and_dev_only_modes(tmp_path, capsys):
    """``--tasks`` scores the named sets (ids or labels) and averages those; ``--dev`` scores
    STS-B dev alone, as SimCSE's ``--mode dev``, reading no test set."""
    from tinydata import tiny_bert, write_mirror

    data = write_mirror(tmp_path / "mirror", pairs_per_subset=4) / "senteval"
    model = tiny_bert(tmp_path / "tiny")
    argv = ["evaluate", str(model), "--data", str(data), "--format", "json", "--quiet"]
    assert main([*argv, "--tasks", "STS-B", "SICKRelatedness", "--out", str(tmp_path / "t")]) == 0
    got = json.loads((tmp_path / "t" / "avg.json").read_text())
    assert list(got["tasks"]) == ["STSBenchmark", "SICKRelatedness"]
    assert got["avg_tasks"] == ["STSBenchmark", "SICKRelatedness"]
    expected = np.mean([got["tasks"][t]["spearman"]["all"] for t in got["tasks"]])
    assert got["avg"]["spearman"] == pytest.approx(expected)
    assert "STS-B" in capsys.readouterr().out
    for folder in (data / "STS" / "STS12-en-test", data / "SICK"):  # --dev reads no test set
        shutil.rmtree(folder)
    assert main([*argv, "--dev", "--out", str(tmp_path / "d")]) == 0
    dev = json.loads((tmp_path / "d" / "avg.json").read_text())
    assert dev["tasks"] == {} and "avg" not in dev and np.isfinite(dev["stsb_dev"]["spearman"])
    assert capsys.readouterr().out.splitlines()[1].split() == ["pooling", "dev"]
    with pytest.raises(SystemExit):
        main([*argv, "--dev", "--tasks", "STS12"])
    assert "drop --tasks" in capsys.readouterr().err


def test_version_and_shown_defaults(capsys):
    from distilface import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"distilface {__version__}"
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "(default: 128)" in capsys.readouterr().out  # --batch-size


def test_a_redirected_log_gets_plain_progress_lines(tmp_path):
    """stderr to a file (no terminal): the encode bar prints plain lines, no \\r redraws."""
    from tinydata import tiny_bert, write_mirror

    data = write_mirror(tmp_path / "mirror", pairs_per_subset=4) / "senteval"
    model = tiny_bert(tmp_path / "tiny")
    log = tmp_path / "err.log"
    with open(log, "w") as err:
        run = subprocess.run(
            [sys.executable, "-m", "distilface", "evaluate", str(model), "--data", str(data),
             "--out", str(tmp_path / "o"), "--format", "json"],
            stdout=subprocess.DEVNULL, stderr=err, timeout=300,
        )  # fmt: skip
    text = log.read_text()
    assert run.returncode == 0, text[-2000:]
    assert "\r" not in text and "encode" in text, text[-2000:]


def test_compare_gives_per_task_deltas_with_paired_bootstrap_cis(tmp_path, capsys):
    """A less noisy model beats a noisier one on the same pairs; the average row matches the
    report's paired bootstrap; models scored on different pairs are refused."""
    from distilface.report import stats

    good = write_eval(tmp_path, "good", "avg", noise=0.1, seed=0)
    noisy = write_eval(tmp_path, "noisy", "avg", noise=1.5, seed=0)
    other = write_eval(tmp_path, "other", "avg", noise=0.1, n_pairs=100)
    assert main(["compare", str(good.parent), str(noisy), "--n-bootstrap", "200"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[4:]}
    assert set(rows) == {"STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg"}
    expected = stats.paired_bootstrap(
        [stats.load_pair_scores(good)], [stats.load_pair_scores(noisy)], 200, 0
    )
    assert float(rows["Avg"][1]) == pytest.approx(expected["delta"], abs=0.006)
    assert expected["delta"] > 0
    assert rows["Avg"][2] == f"{expected['ci_low']:+.2f}"
    assert main(["compare", str(good), str(other)]) == 2
    assert "scored different STS12 pairs" in capsys.readouterr().err
