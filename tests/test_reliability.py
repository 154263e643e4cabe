"""Fault classes of the README's reliability table, one test (or more) per row.

Each test feeds a hostile-but-realistic input and asserts that the run fails loudly, naming
the key / file / line, and that nothing partial is left behind. The config typos live in
tests/test_config.py (row "config typo"); resume after SIGKILL in tests/test_train.py.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from snake import snakemake
from tinydata import tiny_bert, tiny_distilbert, write_mirror

from distilface.data import download as dl
from distilface.data.readers import STS_DIRS, DataFormatError, load_task

REPO = Path(__file__).resolve().parents[1]


# --- row: offline first run (download impossible) ------------------------------------------


def test_download_failure_prints_the_mirror_hint(tmp_path: Path) -> None:
    with pytest.raises(dl.DownloadError) as info:
        dl.fetch("http://127.0.0.1:9/senteval.tar", tmp_path / "x", sha256="0" * 64)
    assert dl.MIRROR_CONFIG in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing partial


def test_the_mirror_hint_is_the_readme_form_everywhere() -> None:
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in (REPO / "docs/data.md").read_text()
    config_text = (REPO / "config" / "config.yaml").read_text(encoding="utf-8")
    assert dl.MIRROR_CONFIG.removeprefix("--config ") in config_text
    assert "data_mirror" not in config_text


@pytest.mark.slow
def test_the_mirror_hint_works_as_printed(tmp_path: Path, shared_data: Path) -> None:
    """The hint's command line, verbatim, on the papers' config (data.mirror: null), from a
    work dir with ../shared/data beside it: the corpus comes from the mirror, checksummed."""
    assert (shared_data / "corpus").is_dir(), f"{shared_data}: no corpus/ in the mirror"
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)
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

    from distilface.evaluate.scoring import ScoreError
    from distilface.evaluate.sts import evaluate_model

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

    from distilface.data.models import WeightsMismatchError
    from distilface.evaluate.encoders import Encoder

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

    from distilface.data.models import WeightsMismatchError
    from distilface.evaluate.encoders import Encoder

    folder = tiny_bert(tmp_path / "bert")
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 3  # the weight file holds 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError, match=r"missing \(first: encoder\.layer\.2\."):
        Encoder.load(str(folder), device="cpu")


def test_a_checkpoint_without_pooler_loads_and_refuses_cls(tmp_path: Path) -> None:
    from distilface.evaluate.encoders import Encoder

    folder = tiny_distilbert(tmp_path / "distil")
    encoder = Encoder.load(str(folder), device="cpu")
    assert encoder.available_poolings()["cls"] is not None
    assert encoder.available_poolings()["avg"] is None


@pytest.mark.parametrize("path", ["results/models/no-such-run/seed1", "/nonexistent/model", "./m"])
def test_a_missing_local_path_says_no_such_folder(path: str) -> None:
    from distilface.data.models import ModelResolutionError
    from distilface.evaluate.encoders import Encoder

    with pytest.raises(ModelResolutionError, match=rf"^{path}: no such folder"):
        Encoder.load(path, device="cpu")


# --- row: a failed job (its log holds the error; progress bars without a terminal) --------


def _last_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8").splitlines()[-1])


def test_job_log_writes_the_exception_as_a_json_line(tmp_path: Path) -> None:
    from distilface.core.logs import job_log

    log = tmp_path / "logs" / "job.jsonl"
    with pytest.raises(KeyError), job_log(log, rule="demo", model="m1"):
        raise KeyError("no such key 'x'")
    record = _last_json(log)
    assert record["message"] == "job failed" and record["level"] == "ERROR"
    assert record["error_type"] == "KeyError" and "no such key" in record["error"]
    assert "Traceback" in record["traceback"] and "raise KeyError" in record["traceback"]
    assert record["rule"] == "demo" and record["model"] == "m1"


def test_progress_without_a_terminal_is_rare_plain_lines() -> None:
    import io

    from tqdm.auto import tqdm

    from distilface.core.logs import plain_progress

    stream = io.StringIO()  # not a TTY
    assert plain_progress(interval_s=3600, stream=stream)
    for _ in tqdm(range(500), desc="encode"):
        pass
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("encode: 100%"), lines


def _tiny_workdir(tmp_path: Path, **edits: object) -> Path:
    """A work dir running config/ci.yaml on the synthetic mirror (+ ``edits`` at the top)."""
    import yaml
    from tinydata import sources_for

    mirror = write_mirror(tmp_path / "mirror", pairs_per_subset=4)
    work = tmp_path / "work"
    work.mkdir()
    (work / "sources.yaml").write_text(yaml.safe_dump(sources_for(mirror)))
    override = {"data": {"mirror": str(mirror)}, "sources_file": str(work / "sources.yaml")}
    (work / "override.yaml").write_text(yaml.safe_dump({**override, **edits}))
    return work


def test_a_failed_job_logs_its_error_and_leaves_no_output(tmp_path: Path) -> None:
    """The mirror lacks the corpus: the corpus job fails, its own log says why."""
    work = _tiny_workdir(tmp_path)
    (tmp_path / "mirror" / "corpus" / "wiki1m_for_simcse.head.txt").unlink()
    target = "results/data/corpus/wiki1m_for_simcse.txt"
    args = [target, "--cores", "1", "--configfile", str(REPO / "config/ci.yaml"), "override.yaml"]
    proc = snakemake(args, work)
    assert proc.returncode != 0
    record = _last_json(work / "results/logs/data/wiki1m.jsonl")
    assert record["message"] == "job failed" and record["error_type"] == "MirrorError"
    assert "wiki1m_for_simcse.head.txt: missing from the mirror" in record["error"]
    assert "Traceback" in record["traceback"]
    assert not (work / target).exists()


# --- row: GPU requested, no CUDA visible ----------------------------------------------------


def test_gpu_request_without_cuda_fails_at_once() -> None:
    from distilface.core.devices import GpuUnavailableError, require_gpu_if_requested

    def no_cuda() -> tuple[bool, str]:
        return False, "torch 2.13.0+cpu (CPU-only build)"

    assert require_gpu_if_requested("job", 0, "auto", no_cuda) is False
    assert require_gpu_if_requested("job", 1, None, lambda: (True, "cuda")) is True
    with pytest.raises(GpuUnavailableError, match=r"rule train, m: requested a GPU \(resources"):
        require_gpu_if_requested("rule train, m", 1, "auto", no_cuda)
    with pytest.raises(GpuUnavailableError, match=r"device='cuda'.*CPU-only build"):
        require_gpu_if_requested("job", 0, "cuda", no_cuda)


def test_a_gpu_job_on_a_machine_without_cuda_fails_with_its_reason_logged(
    tmp_path: Path,
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the job would rightly run")
    work = _tiny_workdir(tmp_path, resources={"eval_gpu": 1})
    target = "results/eval/minilm-l6/avg.json"
    args = [target, "--cores", "1", "--configfile", str(REPO / "config/ci.yaml"), "override.yaml"]
    proc = snakemake(args, work)
    assert proc.returncode != 0
    record = _last_json(work / "results/logs/eval/minilm-l6.jsonl")
    assert record["error_type"] == "GpuUnavailableError"
    assert "rule evaluate, model minilm-l6: requested a GPU (resources gpu=1)" in record["error"]
    assert not (work / "results/eval").exists() or not list((work / "results/eval").rglob("*.json"))


# --- row: disk full / unwritable output while results are written -------------------------


@pytest.mark.parametrize("code", ["ENOSPC", "EACCES"])
def test_a_failed_write_leaves_neither_a_partial_file_nor_a_temp(
    tmp_path: Path, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every result file is written through a temporary name and a rename: an OSError while
    writing (disk full, permission denied) propagates and leaves nothing behind."""
    import builtins
    import errno
    import io

    from distilface.core.io import write_json_atomic  # the eval JSON's writer (evaluate.sts)

    class Full(io.RawIOBase):
        """The temporary file exists (core.io created it with os.open) when the write fails."""

        def __init__(self, fd: int):
            self.fd = fd

        def write(self, data):
            raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

        def close(self):
            os.close(self.fd)
            super().close()

    target = tmp_path / "eval" / "avg.json"
    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        writing = isinstance(path, int) and "w" in mode
        return Full(path) if writing else real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(OSError) as info:
        write_json_atomic(target, {"avg": {"spearman": 1.0}})
    monkeypatch.undo()
    assert info.value.errno == getattr(errno, code)
    assert list(target.parent.iterdir()) == []


# --- round two (issue 21): the faults that still misled ------------------------------------


def test_gold_outside_its_scale_names_file_and_line(mirror: Path) -> None:
    """STS gold runs 0-5 and SICK relatedness 1-5: a 55 is a damaged file, not a score."""
    gs = mirror / "senteval" / STS_DIRS["STS12"] / "STS.gs.MSRpar.txt"
    lines = gs.read_text().splitlines()
    lines[1] = "55"
    gs.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=rf"{gs}:2: gold score 55 is outside the 0-5"):
        load_task("STS12", mirror / "senteval")
    sick = mirror / "senteval/SICK/SICK_test_annotated.txt"
    text = sick.read_text().splitlines()
    row = text[1].split("\t")
    row[3] = "0.5"
    sick.write_text("\n".join([text[0], "\t".join(row), *text[2:]]) + "\n")
    with pytest.raises(DataFormatError, match=rf"{sick}:2: relatedness_score 0.5 is outside"):
        load_task("SICKRelatedness", mirror / "senteval")


def test_a_genre_with_constant_gold_is_an_error(mirror: Path, tmp_path: Path) -> None:
    """A constant-gold STS-B genre has no Spearman: a ScoreError naming the subset, no JSON
    with a null in it."""
    from distilface.evaluate.scoring import ScoreError
    from distilface.evaluate.sts import evaluate_model

    stsb = mirror / "senteval/STS/STSBenchmark/sts-test.csv"
    rows = [line.split("\t") for line in stsb.read_text().splitlines()]
    for row in rows:
        if row[0] == "main-news":
            row[4] = "2.5"
    stsb.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    model, out = tiny_bert(tmp_path / "bert"), tmp_path / "eval"
    with pytest.raises(ScoreError, match=r"STSBenchmark subset 'main-news' spearman"):
        evaluate_model("m", str(model), ["avg"], mirror / "senteval", out, device="cpu")
    assert not list(out.glob("*.json"))


def test_an_unwritable_output_or_cache_fails_before_encoding(
    mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file where the output (or cache) folder should be: the error names the folder before
    the model is even loaded (this box runs as root, so a chmod would not stop a write)."""
    from distilface.evaluate import sts

    def never(*_args, **_kwargs):
        raise AssertionError("the encoder was loaded before the output was known writable")

    monkeypatch.setattr(sts.Encoder, "load", never)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match=rf"output folder {blocker}/eval is not writable"):
        sts.evaluate_model("m", "x", ["avg"], mirror / "senteval", blocker / "eval")
    with pytest.raises(PermissionError, match=rf"embedding cache {blocker}/cache is not writ"):
        sts.evaluate_model(
            "m", "x", ["avg"], mirror / "senteval", tmp_path / "out", cache_dir=blocker / "cache"
        )


@pytest.mark.parametrize("cut", ["empty", "header", "data"])
def test_a_cut_weight_file_is_named(tmp_path: Path, cut: str) -> None:
    from distilface.data.models import ModelResolutionError
    from distilface.evaluate.encoders import Encoder

    folder = tiny_bert(tmp_path / "bert")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    n = int.from_bytes(data[:8], "little")
    keep = {"empty": 0, "header": 8 + n // 2, "data": len(data) - 100}[cut]
    weights.write_bytes(data[:keep])
    with pytest.raises(ModelResolutionError, match=rf"^{weights}: not a whole safetensors file"):
        Encoder.load(str(folder), device="cpu")


def test_weights_holding_nan_are_refused(tmp_path: Path) -> None:
    """Bytes overwritten inside the weight file (here: NaN in one tensor) would give NaN
    embeddings that SentEval's convention zeroes and scores."""
    from safetensors.torch import load_file, save_file

    from distilface.data.models import ModelResolutionError
    from distilface.evaluate.encoders import Encoder

    folder = tiny_bert(tmp_path / "bert")
    tensors = load_file(folder / "model.safetensors")
    name = next(k for k in sorted(tensors) if k.endswith("attention.self.query.weight"))
    tensors[name][0, 0] = float("nan")
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelResolutionError, match=r"1 weight tensor\(s\) hold NaN or inf"):
        Encoder.load(str(folder), device="cpu")


def test_nan_embeddings_are_refused_not_zeroed() -> None:
    import numpy as np

    from distilface.evaluate.scoring import ScoreError, require_finite_embeddings

    emb = np.ones((3, 4), dtype=np.float32)
    require_finite_embeddings(emb, ["a", "b", "c"], "m")
    emb[1, 2] = np.nan
    with pytest.raises(ScoreError, match=r"m: 1 of 3 sentence embeddings contain NaN.*'b'"):
        require_finite_embeddings(emb, ["a", "b", "c"], "m")


def test_an_unreachable_hub_name_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from distilface.data.models import ModelResolutionError
    from distilface.evaluate.encoders import Encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelResolutionError, match=r"^model 'nobody-x/no-such-model': not a lo"):
        Encoder.load("nobody-x/no-such-model", device="cpu")


def test_cuda_on_a_cpu_machine_is_a_clear_error() -> None:
    import torch

    from distilface.core.devices import GpuUnavailableError
    from distilface.evaluate.encoders import Encoder

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(GpuUnavailableError, match="device 'cuda' requested"):
        Encoder.load("bundled:all-MiniLM-L6-v2", device="cuda")


def test_a_failed_derived_data_job_logs_why(tmp_path: Path) -> None:
    """The derived-data job (SICK-train triplets) fails on a SICK file without any
    ENTAILMENT/CONTRADICTION pair: its log holds the error, not nothing."""
    work = _tiny_workdir(tmp_path)
    sick = tmp_path / "mirror" / "senteval" / "SICK" / "SICK_train.txt"
    sick.write_text(sick.read_text().replace("ENTAILMENT", "NEUTRAL"))
    import yaml
    from tinydata import sources_for

    (work / "sources.yaml").write_text(yaml.safe_dump(sources_for(tmp_path / "mirror")))
    target = "results/data/nli/sick_train_triplets.csv"
    args = [target, "--cores", "1", "--configfile", str(REPO / "config/ci.yaml"), "override.yaml"]
    proc = snakemake(args, work)
    assert proc.returncode != 0
    record = _last_json(work / "results/logs/data/nli/sick_train_triplets.csv.jsonl")
    assert record["message"] == "job failed" and record["error_type"] == "DataFormatError"
    assert "no premise with both an ENTAILMENT and a CONTRADICTION" in record["error"]
    assert not (work / target).exists()


def test_the_sources_file_is_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distilface.reproduce import sources_path

    monkeypatch.chdir(tmp_path)
    assert sources_path(None, {}) == REPO / "config" / "sources.yaml"
    assert sources_path(None, {"sources_file": str(REPO / "config/sources.yaml")}).is_file()
    with pytest.raises(SystemExit, match=r"data sources file nope.yaml not found"):
        sources_path(Path("nope.yaml"), {})


# --- the reliability table (docs/reliability.md) names only tests that exist ---------------


def test_every_row_of_the_readme_reliability_table_names_existing_tests() -> None:
    import re

    section = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")  # README links it
    assert "docs/reliability.md" in (REPO / "README.md").read_text(encoding="utf-8")
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 10, rows
    for row in rows[1:]:  # after the header
        refs = re.findall(r"`((?:tests/\w+\.py::)?test_\w+)`", row.rsplit("|", 2)[-2])
        assert refs, f"row without a test: {row[:80]}"
        for ref in refs:
            file, _, name = ref.rpartition("::")
            source = (REPO / (file or "tests/test_reliability.py")).read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, re.M), f"{ref} not found"
