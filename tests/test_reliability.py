"""Fault classes of the README's reliability table, one test (or more) per row.

Each test feeds a hostile-but-realistic input and asserts that the run fails loudly, naming
the key / file / line, and that nothing partial is left behind. The config typos live in
tests/test_config.py (row "config typo"); resume after SIGKILL in tests/test_train.py.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from tinydata import tiny_bert, tiny_distilbert, write_mirror

from distilface import download as dl
from distilface.data import STS_DIRS, DataFormatError, load_task

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- row: offline first run (download impossible) ------------------------------------------


def test_download_failure_prints_the_mirror_hint(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch("http://127.0.0.1:9/senteval.tar", tmp_path / "x", sha256="0" * 64)
    assert dl.MIRROR_CONFIG in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing partial


def test_the_mirror_hint_is_the_readme_form_everywhere() -> None:
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in (REPO / "README.md").read_text()
    config_text = (REPO / "config" / "config.yaml").read_text(encoding="utf-8")
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in config_text
    assert "data_mirror" not in config_text


@pytest.mark.slow
def test_the_mirror_hint_works_as_printed(tmp_path: Path) -> None:
    """The hint's command line, verbatim, on the papers' config (data.mirror: null), from a
    work dir with ../shared/data beside it: the corpus comes from the mirror, checksummed."""
    if not (SHARED_DATA / "corpus").is_dir():
        pytest.skip(f"no mirror at {SHARED_DATA}")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(SHARED_DATA)
    work = tmp_path / "work"
    work.mkdir()
    target = "results/data/corpus/wiki1m_for_simcse.txt"
    hint = shlex.split(dl.MIRROR_CONFIG)
    # appended last, as the hint says (--config takes every following word)
    args = [target, "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), *hint]
    proc = snakemake(args, work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = work / target
    record = json.loads((out.parent / "MANIFEST.json").read_text())["files"][out.name]
    assert record["origin"].endswith("corpus/wiki1m_for_simcse.head.txt"), record
    assert record["verified"] is True and record["bytes"] == out.stat().st_size


# --- row: broken test files (non-finite gold, zero pairs, BOM) ----------------------------


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    return write_mirror(tmp_path / "mirror", pairs_per_subset=4)


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_non_finite_gold_score_names_file_and_line(mirror: Path, bad: str) -> None:
    gs = mirror / "senteval" / STS_DIRS["STS12"] / "STS.gs.MSRpar.txt"
    lines = gs.read_text().splitlines()
    lines[2] = bad
    gs.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=rf"{gs}:3: gold score '{bad}' is not a finite"):
        load_task("STS12", mirror / "senteval")


def test_non_finite_stsb_and_sick_scores_are_refused(mirror: Path) -> None:
    stsb = mirror / "senteval/STS/STSBenchmark/sts-test.csv"
    fields = stsb.read_text().splitlines()[0].split("\t")
    stsb.write_text("\t".join(fields[:4] + ["nan"] + fields[5:]) + "\n")
    with pytest.raises(DataFormatError, match=rf"{stsb}:1: score 'nan' is not a finite"):
        load_task("STSBenchmark", mirror / "senteval")
    sick = mirror / "senteval/SICK/SICK_test_annotated.txt"
    text = sick.read_text().splitlines()
    row = text[1].split("\t")
    row[3] = "inf"
    sick.write_text("\n".join([text[0], "\t".join(row)]) + "\n")
    with pytest.raises(DataFormatError, match=rf"{sick}:2: relatedness_score 'inf'"):
        load_task("SICKRelatedness", mirror / "senteval")


def test_empty_stsb_test_file_is_an_error(mirror: Path) -> None:
    stsb = mirror / "senteval/STS/STSBenchmark/sts-test.csv"
    stsb.write_text("")
    with pytest.raises(DataFormatError, match=rf"{stsb}: no scored pairs"):
        load_task("STSBenchmark", mirror / "senteval")


def test_header_only_sick_is_an_error(mirror: Path) -> None:
    sick = mirror / "senteval/SICK/SICK_test_annotated.txt"
    sick.write_text(sick.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataFormatError, match=rf"{sick}: no scored pairs"):
        load_task("SICKRelatedness", mirror / "senteval")


def test_sts_subset_without_any_gold_is_an_error(mirror: Path) -> None:
    gs = mirror / "senteval" / STS_DIRS["STS13"] / "STS.gs.FNWN.txt"
    gs.write_text("\n" * len(gs.read_text().splitlines()))
    with pytest.raises(DataFormatError, match=rf"{gs}: no scored pairs"):
        load_task("STS13", mirror / "senteval")


def test_utf8_bom_is_stripped(mirror: Path) -> None:
    stsb = mirror / "senteval/STS/STSBenchmark/sts-test.csv"
    clean = load_task("STSBenchmark", mirror / "senteval")
    stsb.write_bytes(b"\xef\xbb\xbf" + stsb.read_bytes())
    pairs = load_task("STSBenchmark", mirror / "senteval")
    assert pairs.subsets == clean.subsets and not any("\ufeff" in s for s in pairs.subsets)
    assert pairs.sent1 == clean.sent1 and list(pairs.gold) == list(clean.gold)


def test_nan_score_is_refused_and_nothing_is_written(mirror: Path, tmp_path: Path) -> None:
    """A collapsed model (all weights zero: every embedding equal) gives undefined
    correlations: the evaluator raises instead of writing ``null`` scores."""
    import torch

    from distilface.sts import ScoreError, evaluate_model

    model = tiny_bert(tmp_path / "collapsed")
    from transformers import BertModel

    bert = BertModel.from_pretrained(model)
    with torch.no_grad():
        for p in bert.parameters():
            p.zero_()
    bert.save_pretrained(model)
    out = tmp_path / "eval"
    with pytest.raises(ScoreError, match=r"collapsed.*pooling avg.*STS12 spearman\[all\]"):
        evaluate_model("collapsed", str(model), ["avg"], mirror / "senteval", out, device="cpu")
    assert not out.exists() or not list(out.iterdir())


# --- row: a model folder whose weights do not match its config; a missing local path ------


def test_weights_not_matching_the_config_are_refused(tmp_path: Path) -> None:
    """BERT weights under a DistilBERT config.json would load as a random DistilBERT."""
    import shutil

    from distilface.encoders import Encoder
    from distilface.models import WeightsMismatchError

    folder = tiny_bert(tmp_path / "bert")
    config = tiny_distilbert(tmp_path / "distil") / "config.json"
    shutil.copy(config, folder / "config.json")
    with pytest.raises(WeightsMismatchError) as info:
        Encoder.load(str(folder), device="cpu")
    message = str(info.value)
    assert message.startswith(f"{folder}: the weights do not match config.json (DistilBertModel)")
    assert "missing (first: transformer.layer.0." in message and "unexpected" in message


def test_a_checkpoint_missing_layers_is_refused(tmp_path: Path) -> None:
    import json

    from distilface.encoders import Encoder
    from distilface.models import WeightsMismatchError

    folder = tiny_bert(tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 3  # the weight file holds 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError, match=r"missing \(first: encoder\.layer\.2\."):
        Encoder.load(str(folder), device="cpu")


def test_a_checkpoint_without_pooler_loads_and_refuses_cls(tmp_path: Path) -> None:
    from distilface.encoders import Encoder

    folder = tiny_distilbert(tmp_path / "distil")
    encoder = Encoder.load(str(folder), device="cpu")
    assert encoder.available_poolings()["cls"] is not None
    assert encoder.available_poolings()["avg"] is None


@pytest.mark.parametrize("path", ["results/models/no-such-run/seed1", "/nonexistent/model", "./m"])
def test_a_missing_local_path_says_no_such_folder(path: str) -> None:
    from distilface.encoders import Encoder
    from distilface.models import ModelResolutionError

    with pytest.raises(ModelResolutionError, match=rf"^{path}: no such folder"):
        Encoder.load(path, device="cpu")
