"""Readers of the real formats: quirks on generated files, exact counts on the real data."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from distilface.core.names import STS_TASKS
from distilface.data import readers as D
from distilface.data.download import materialize


def _w(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def _sts_year(root: Path, year: str, rows: dict[str, tuple[str, str]]) -> Path:
    """Write all subsets of ``year``: ``rows[subset] = (input, gold)``, else one pair each."""
    ydir = root / D.STS_DIRS[year]
    for subset in D.STS_SUBSETS[year]:
        inp, gs = rows.get(subset, (f"a {subset}\tb {subset}\n", "2.5\n"))
        _w(ydir / f"STS.input.{subset}.txt", inp)
        _w(ydir / f"STS.gs.{subset}.txt", gs)
    return ydir


# ---------------------------------------------------------------------------------------------
# STS12-16


def test_sts_blank_gold_drops_pair(tmp_path: Path) -> None:
    ydir = _sts_year(tmp_path, "STS15", {"belief": ("x1\ty1\nx2\ty2\nx3\ty3\n", "1.0\n\n4.5\n")})
    pairs = D.read_sts_year(ydir, "STS15")
    belief = [i for i, s in enumerate(pairs.subsets) if s == "belief"]
    assert [pairs.sent1[i] for i in belief] == ["x1", "x3"]
    assert [pairs.sent2[i] for i in belief] == ["y1", "y3"]
    np.testing.assert_array_equal(pairs.gold[belief], [1.0, 4.5])
    assert len(pairs) == 4 + 2  # one pair per other subset
    assert list(dict.fromkeys(pairs.subsets)) == list(D.STS_SUBSETS["STS15"])


@pytest.mark.parametrize(("line", "found"), [("only one field", 1), ("a\tb\tc", 3), ("", 1)])
def test_sts_wrong_field_count_names_file_and_line(tmp_path: Path, line: str, found: int) -> None:
    ydir = _sts_year(tmp_path, "STS13", {"OnWN": (f"a\tb\n{line}\n", "1\n2\n")})
    with pytest.raises(D.DataFormatError, match=rf"STS\.input\.OnWN\.txt:2: .* found {found}"):
        D.read_sts_year(ydir, 2013)


def test_sts_bad_gold_and_line_count(tmp_path: Path) -> None:
    ydir = _sts_year(tmp_path, "STS12", {"MSRvid": ("a\tb\nc\td\n", "1.0\nfive\n")})
    with pytest.raises(D.DataFormatError, match=r"STS\.gs\.MSRvid\.txt:2: .*'five'"):
        D.read_sts_year(ydir, "STS12")
    ydir = _sts_year(tmp_path, "STS12", {"MSRvid": ("a\tb\nc\td\n", "1.0\n")})
    with pytest.raises(D.DataFormatError, match="has 2 lines but .* has 1"):
        D.read_sts_year(ydir, "STS12")


def test_sts_splits_on_newline_only(tmp_path: Path) -> None:
    """\\v, \\x1c and U+2028 are text, not line breaks (str.splitlines would split them)."""
    odd = "a\x0bb\x1cc\u2028d"
    ydir = _sts_year(tmp_path, "STS14", {"images": (f"{odd}\tsecond\r\n", "3.0\r\n")})
    pairs = D.read_sts_year(ydir, "STS14")
    i = pairs.subsets.index("images")
    assert pairs.sent1[i] == odd and pairs.sent2[i] == "second"
    assert pairs.gold[i] == 3.0


def test_non_utf8_is_an_error_with_line(tmp_path: Path) -> None:
    ydir = _sts_year(tmp_path, "STS16", {"headlines": (b"ok\tok\ncaf\xe9\tx\n", "1\n2\n")})
    with pytest.raises(D.DataFormatError, match=r"STS\.input\.headlines\.txt:2: not valid UTF-8"):
        D.read_sts_year(ydir, "STS16")


def test_missing_subset_file(tmp_path: Path) -> None:
    ydir = _sts_year(tmp_path, "STS13", {})
    (ydir / "STS.gs.FNWN.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"STS\.gs\.FNWN\.txt"):
        D.load_task("STS13", tmp_path)


# ---------------------------------------------------------------------------------------------
# STS-B and SICK


def test_stsb_quotes_verbatim_and_extra_fields(tmp_path: Path) -> None:
    lines = [
        'main-news\tfile\t2012\t0001\t4.2\tHe said "hi\tShe said "bye" twice',
        "main-forums\tf\t2014\t0002\t1\ta ' b\tc\tlicence A\tlicence B",
    ]
    path = _w(tmp_path / "sts-test.csv", "\n".join(lines) + "\n")
    pairs = D.read_stsb(path)
    assert pairs.sent1 == ['He said "hi', "a ' b"]
    assert pairs.sent2 == ['She said "bye" twice', "c"]
    np.testing.assert_array_equal(pairs.gold, [4.2, 1.0])
    assert pairs.subsets == ["main-news", "main-forums"]


def test_stsb_short_line_names_file_and_line(tmp_path: Path) -> None:
    path = _w(tmp_path / "sts-dev.csv", "g\tf\t2012\t1\t2\ta\tb\ng\tf\t2012\t2\t3\tonly\n")
    with pytest.raises(D.DataFormatError, match=r"sts-dev\.csv:2: .*found 6"):
        D.read_stsb(path)


SICK_HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"


def test_sick_crlf_and_header_by_name(tmp_path: Path) -> None:
    body = SICK_HEADER + "\r\n1\tA man\tA  person\t4.5\tENTAILMENT\r\n2\tx\ty\t1.2\tNEUTRAL\r\n"
    pairs = D.read_sick(_w(tmp_path / "SICK_test_annotated.txt", body))
    assert pairs.sent1 == ["A man", "x"] and pairs.sent2 == ["A  person", "y"]
    assert pairs.subsets == ["ENTAILMENT", "NEUTRAL"]
    np.testing.assert_array_equal(pairs.gold, [4.5, 1.2])
    reordered = "entailment_judgment\trelatedness_score\tsentence_B\tsentence_A\tpair_ID\n"
    reordered += "CONTRADICTION\t2.0\tB\tA\t9\n"
    pairs = D.read_sick(_w(tmp_path / "r.txt", reordered))
    assert (pairs.sent1, pairs.sent2, pairs.subsets) == (["A"], ["B"], ["CONTRADICTION"])


def test_sick_errors(tmp_path: Path) -> None:
    with pytest.raises(D.DataFormatError, match=r"bad\.txt:3: expected 5"):
        D.read_sick(_w(tmp_path / "bad.txt", SICK_HEADER + "\n1\ta\tb\t3\tN\n2\ta\tb\t3\n"))
    with pytest.raises(D.DataFormatError, match=r"hdr\.txt:1: header lacks .*relatedness_score"):
        D.read_sick(_w(tmp_path / "hdr.txt", "pair_ID\tsentence_A\tsentence_B\tscore\tx\n"))


def test_load_task_splits(tmp_path: Path) -> None:
    for split in ("train", "dev", "test"):
        _w(tmp_path / D.STSB_DIR / f"sts-{split}.csv", f"g\tf\ty\t1\t1\t{split}\tb\n")
    for split, name in D.SICK_FILES.items():
        _w(tmp_path / D.SICK_DIR / name, SICK_HEADER + f"\n1\t{split}\tb\t3\tNEUTRAL\n")
    for split in ("train", "dev", "test"):
        assert D.load_task("STSBenchmark", tmp_path, split).sent1 == [split]
        assert D.load_task("SICKRelatedness", tmp_path, split).sent1 == [split]
    with pytest.raises(ValueError, match="only a test split"):
        D.load_task("STS12", tmp_path, "dev")
    with pytest.raises(ValueError, match="split must be one of"):
        D.load_task("STSBenchmark", tmp_path, "validation")
    with pytest.raises(ValueError, match="unknown task"):
        D.load_task("STS17", tmp_path)


def test_senteval_text() -> None:
    assert D.senteval_text("  a  man\tis  ") == "a man is"


# ---------------------------------------------------------------------------------------------
# training data


def test_read_corpus_skips_and_counts_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _w(tmp_path / "c.txt", "first one \n\n   \n\u00a0second\u00a0\r\nthird")
    with caplog.at_level(logging.INFO, logger="distilface.data.readers"):
        assert D.read_corpus(path) == ["first one", "second", "third"]
    record = caplog.records[-1]
    assert record.getMessage() == "read_corpus"
    assert record.data["empty_lines_skipped"] == 2 and record.data["sentences"] == 3
    with pytest.raises(D.DataFormatError, match="no sentences"):
        D.read_corpus(_w(tmp_path / "e.txt", "\n\n"))


def test_read_corpus_keeps_each_sentence_once(tmp_path: Path, caplog) -> None:
    """A repeated sentence is read once (first place kept), so it can never be a contrastive
    negative of itself in a batch or the CKD queue; the count of repeats is logged."""
    path = _w(tmp_path / "c.txt", "a cat\nthe dog\n a cat \nthe dog\nbirds\na cat\n")
    with caplog.at_level(logging.INFO, logger="distilface.data.readers"):
        assert D.read_corpus(path) == ["a cat", "the dog", "birds"]
    assert caplog.records[-1].data["repeats_skipped"] == 3


def test_read_nli_quoted_fields(tmp_path: Path) -> None:
    body = 'sent0,sent1,hard_neg\n"A, b","He said ""no""",plain\nx,y,z\n'
    assert D.read_nli(_w(tmp_path / "n.csv", body)) == [
        ("A, b", 'He said "no"', "plain"),
        ("x", "y", "z"),
    ]


def test_read_nli_errors(tmp_path: Path) -> None:
    with pytest.raises(D.DataFormatError, match=r"h\.csv:1: header must be"):
        D.read_nli(_w(tmp_path / "h.csv", "sent0,sent1\na,b\n"))
    with pytest.raises(D.DataFormatError, match=r"c\.csv:3: expected 3 fields, found 2"):
        D.read_nli(_w(tmp_path / "c.csv", "sent0,sent1,hard_neg\na,b,c\na,b\n"))


# ---------------------------------------------------------------------------------------------
# the real data (../shared/data), materialised through the mirror path

EXPECTED = {
    "STS12": {"MSRpar": 750, "MSRvid": 750, "SMTeuroparl": 459, "surprise.OnWN": 750,
              "surprise.SMTnews": 399},
    "STS13": {"FNWN": 189, "headlines": 750, "OnWN": 561},
    "STS14": {"deft-forum": 450, "deft-news": 300, "headlines": 750, "images": 750, "OnWN": 750,
              "tweet-news": 750},
    "STS15": {"answers-forums": 375, "answers-students": 750, "belief": 375, "headlines": 750,
              "images": 750},
    "STS16": {"answer-answer": 254, "headlines": 249, "plagiarism": 230, "postediting": 244,
              "question-question": 209},
    ("STSBenchmark", "train"): {"main-captions": 2000, "main-forum": 450, "main-news": 3299},
    ("STSBenchmark", "dev"): {"main-captions": 625, "main-forums": 375, "main-news": 500},
    ("STSBenchmark", "test"): {"main-captions": 625, "main-forums": 254, "main-news": 500},
    ("SICKRelatedness", "train"): {"CONTRADICTION": 665, "ENTAILMENT": 1299, "NEUTRAL": 2536},
    ("SICKRelatedness", "dev"): {"CONTRADICTION": 74, "ENTAILMENT": 144, "NEUTRAL": 282},
    ("SICKRelatedness", "test"): {"CONTRADICTION": 720, "ENTAILMENT": 1414, "NEUTRAL": 2793},
}  # fmt: skip
TOTALS = {"STS12": 3108, "STS13": 1500, "STS14": 3750, "STS15": 3000, "STS16": 1186,
          "STSBenchmark": 1379, "SICKRelatedness": 4927}  # fmt: skip


@pytest.fixture(scope="module")
def real_data(shared_data: Path, sources_config: dict, tmp_path_factory) -> Path:
    """senteval/, corpus/ and nli/ copied from the mirror into a temporary data root."""
    root = tmp_path_factory.mktemp("data")
    for name, cfg in sources_config["sources"].items():
        materialize(name, cfg, root, mirror=shared_data)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("key", list(EXPECTED), ids=str)
def test_real_counts(real_data: Path, key: str | tuple[str, str]) -> None:
    task, split = key if isinstance(key, tuple) else (key, "test")
    pairs = D.load_task(task, real_data / "senteval", split)
    assert dict(Counter(pairs.subsets)) == EXPECTED[key]
    if split == "test":
        assert len(pairs) == TOTALS[task]
    lo = 1.0 if task == "SICKRelatedness" else 0.0
    assert pairs.gold.min() >= lo and pairs.gold.max() <= 5.0
    assert all(pairs.sent1) and all(pairs.sent2)


@pytest.mark.slow
def test_real_all_tasks_and_training_files(real_data: Path) -> None:
    assert sum(len(D.load_task(t, real_data / "senteval")) for t in STS_TASKS) == sum(
        TOTALS.values()
    )
    corpus = D.read_corpus(real_data / "corpus" / "wiki1m_for_simcse.txt")
    # 11,913 lines, 366 of them repeats of an earlier line
    assert len(corpus) == 11547 and corpus[0].startswith("YMCA")
    nli = D.read_nli(real_data / "nli" / "nli_for_simcse.csv")
    assert len(nli) == 9 and all(len(t) == 3 and all(t) for t in nli)
    manifest = json.loads((real_data / "senteval" / "MANIFEST.json").read_text())
    assert len(manifest["files"]) == 54 and all(r["verified"] for r in manifest["files"].values())


def test_sick_triplets_and_training_split_corpus_on_the_real_files(shared_data, tmp_path):
    """The offline stage-2 stand-in and the in-domain corpus, from the TRAINING splits only."""
    sick_train = shared_data / "senteval" / "SICK" / "SICK_train.txt"
    triplets = D.sick_triplets(sick_train)
    # 1,299 ENTAILMENT pairs in SICK train; 259 of their premises also have a contradiction
    assert len(triplets) == 259
    assert len({t[0] for t in triplets}) < len(triplets)  # premises with several entailments
    labels = {}
    pairs = D.read_sick(sick_train)
    for a, b, label in zip(pairs.sent1, pairs.sent2, pairs.subsets, strict=True):
        labels[(a.strip(), b.strip())] = labels[(b.strip(), a.strip())] = label
    for premise, positive, negative in triplets:
        assert labels[(premise, positive)] == "ENTAILMENT"
        assert labels[(premise, negative)] == "CONTRADICTION"
    out = tmp_path / "nli" / "sick.csv"
    D.write_triplets_csv(triplets, out)
    assert D.read_nli(out) == triplets  # SimCSE's csv format, read back by the trainer
    # only the training splits are read: a root whose dev/test files are absent works
    root = tmp_path / "senteval"
    (root / "STS" / "STSBenchmark").mkdir(parents=True)
    (root / "SICK").mkdir()
    stsb = shared_data / "senteval" / "STS" / "STSBenchmark" / "sts-train.csv"
    (root / "STS" / "STSBenchmark" / "sts-train.csv").write_bytes(stsb.read_bytes())
    (root / "SICK" / "SICK_train.txt").write_bytes(sick_train.read_bytes())
    sentences = D.training_split_sentences(root)
    assert len(sentences) == len(set(sentences)) == 15320
    assert sentences[0] == "a plane is taking off ."
    D.build_derived("train_split_sentences", root, tmp_path / "corpus.txt")
    assert D.read_corpus(tmp_path / "corpus.txt") == sentences
