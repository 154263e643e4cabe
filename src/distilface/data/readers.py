"""Readers of the real evaluation and training formats (SentEval layout, SimCSE files).

Exact about each quirk measured on the real files (``../shared/data/PROVENANCE.md``):

- Text is decoded as strict UTF-8; a bad byte is an error naming ``file:line``. A leading
  UTF-8 byte-order mark (an editor's export) is dropped, never kept in the first field.
- Scores must be finite numbers (``nan`` / ``inf`` are errors naming ``file:line``), and a
  test set (or an STS subset) with zero scored pairs is an error, never an empty score.
- Lines are split on ``"\\n"`` with one trailing ``"\\r"`` removed (SICK test is CRLF), never
  with :meth:`str.splitlines` (which also splits on ``\\v``, ``\\x1c``, U+2028, ...).
- STS12-16 (``STS.input.<subset>.txt`` + ``STS.gs.<subset>.txt``): exactly two TAB fields; a
  blank gold line means "not scored" and drops the pair, as SentEval does.
- STS-B: TAB-separated, quote characters are ordinary text; fields 0-6 are used (genre, file,
  year, id, score, sentence1, sentence2), extra fields are ignored; subset = genre.
- SICK: header row, columns by name; subset = entailment judgment.

Sentences are returned verbatim. SentEval splits them on whitespace and SimCSE's batcher
joins the tokens with one space: :func:`senteval_text` reproduces that when wanted.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distilface.core.io import write_text_atomic
from distilface.core.logs import log_event
from distilface.core.names import STS_TASKS
from distilface.core.types import StsPairs

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

# Subsets per year, in SentEval's order (SimCSE evaluates the same ones).
STS_SUBSETS: dict[str, tuple[str, ...]] = {
    "STS12": ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
    "STS13": ("FNWN", "headlines", "OnWN"),
    "STS14": ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"),
    "STS15": ("answers-forums", "answers-students", "belief", "headlines", "images"),
    "STS16": ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
}
# Folders under the SentEval root (``results/data/senteval``).
STS_DIRS: dict[str, str] = {year: f"STS/{year}-en-test" for year in STS_SUBSETS}
STSB_DIR = "STS/STSBenchmark"
SICK_DIR = "SICK"
STSB_FILES: dict[str, str] = {s: f"sts-{s}.csv" for s in ("train", "dev", "test")}
SICK_FILES: dict[str, str] = {
    "train": "SICK_train.txt",
    "dev": "SICK_trial.txt",
    "test": "SICK_test_annotated.txt",
}
SICK_COLUMNS = ("sentence_A", "sentence_B", "relatedness_score", "entailment_judgment")
NLI_HEADER = ["sent0", "sent1", "hard_neg"]
STSB_FIELDS = 7
#: Gold scales: STS 2012-2016 and STS-B from 0 (unrelated) to 5 (equivalent); SICK
#: relatedness from 1 to 5 (the datasets' papers). A score outside is a damaged file.
STS_SCALE = (0.0, 5.0)
SICK_SCALE = (1.0, 5.0)


class DataFormatError(ValueError):
    """A data file does not have the expected format; the message names ``file:line``."""


def _log(event: str, **fields: Any) -> None:
    """One structured log record (JSON lines via :mod:`distilface.core.logs`)."""
    log_event(log, event, **fields)


BOM = "\ufeff"


def read_text(path: PathLike) -> str:
    """The file's text, decoded as strict UTF-8 (an invalid byte -> DataFormatError file:line);
    a leading byte-order mark is removed (and logged)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataFormatError(
            f"{path}:{line}: not valid UTF-8 ({e.reason} at byte {e.start})"
        ) from e
    if text.startswith(BOM):
        _log("byte-order mark removed", path=str(path))
        text = text[len(BOM) :]
    return text


def read_lines(path: PathLike) -> list[str]:
    """Lines split on ``\\n`` (one trailing ``\\r`` removed); a final newline adds no line."""
    text = read_text(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _parse_float(value: str, path: PathLike, lineno: int, what: str) -> float:
    """A finite float, else DataFormatError naming ``file:line`` (``nan``/``inf`` included)."""
    try:
        number = float(value)
    except ValueError:
        raise DataFormatError(f"{path}:{lineno}: {what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise DataFormatError(f"{path}:{lineno}: {what} {value!r} is not a finite number")
    return number


def _check_range(number: float, path: PathLike, lineno: int, what: str, scale: tuple) -> float:
    """``number`` if it lies on the task's gold scale, else DataFormatError naming file:line."""
    low, high = scale
    if not low <= number <= high:
        raise DataFormatError(
            f"{path}:{lineno}: {what} {number:g} is outside the {low:g}-{high:g} scale"
        )
    return number


def _require_pairs(n: int, path: PathLike, what: str) -> None:
    """Zero scored pairs is an error: a correlation over nothing is no score."""
    if n == 0:
        raise DataFormatError(f"{path}: no scored pairs ({what}); the file is empty or truncated")


def senteval_text(sentence: str) -> str:
    """A sentence as SimCSE feeds it to the encoder: SentEval's ``split()`` joined by spaces."""
    return " ".join(sentence.split())


# ---------------------------------------------------------------------------------------------
# STS12-16


def read_sts_subset(
    input_path: PathLike, gold_path: PathLike
) -> tuple[list[str], list[str], list[float]]:
    """One STS subset: pairs whose gold line is non-blank, as (sent1, sent2, gold)."""
    inputs, golds = read_lines(input_path), read_lines(gold_path)
    if len(inputs) != len(golds):
        raise DataFormatError(
            f"{input_path} has {len(inputs)} lines but {gold_path} has {len(golds)}"
        )
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    for lineno, (pair, score) in enumerate(zip(inputs, golds, strict=True), start=1):
        fields = pair.split("\t")
        if len(fields) != 2:
            raise DataFormatError(
                f"{input_path}:{lineno}: expected 2 TAB-separated fields, found {len(fields)}"
            )
        if score == "":
            continue  # the organisers released this pair but did not score it
        number = _parse_float(score, gold_path, lineno, "gold score")
        gold.append(_check_range(number, gold_path, lineno, "gold score", STS_SCALE))
        s1.append(fields[0])
        s2.append(fields[1])
    _require_pairs(len(gold), gold_path, "every gold line is blank")
    return s1, s2, gold


def read_sts_year(year_dir: PathLike, year: str | int) -> StsPairs:
    """All subsets of one STS year (``"STS12"``..``"STS16"``, or 12 / 2012) from its folder."""
    task = _sts_task_name(year)
    year_dir = Path(year_dir)
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    subsets: list[str] = []
    sources: list[str] = []
    for subset in STS_SUBSETS[task]:
        inp, gs = year_dir / f"STS.input.{subset}.txt", year_dir / f"STS.gs.{subset}.txt"
        for p in (inp, gs):
            if not p.is_file():
                raise FileNotFoundError(f"{task}: missing {p}")
        a, b, g = read_sts_subset(inp, gs)
        s1 += a
        s2 += b
        gold += g
        subsets += [subset] * len(g)
        sources += [str(inp), str(gs)]
    return StsPairs(task, s1, s2, np.asarray(gold, dtype=np.float64), subsets, sources)


def _sts_task_name(year: str | int) -> str:
    text = str(year).upper().removeprefix("STS")
    task = f"STS{text[-2:]}" if text.isdigit() else str(year)
    if task not in STS_SUBSETS:
        raise ValueError(f"unknown STS year {year!r}; expected one of {list(STS_SUBSETS)}")
    return task


# ---------------------------------------------------------------------------------------------
# STS Benchmark and SICK


def read_stsb(path: PathLike) -> StsPairs:
    """One STS-B split (``sts-{train,dev,test}.csv``): TAB fields 0-6, quotes kept verbatim."""
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    subsets: list[str] = []
    for lineno, line in enumerate(read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) < STSB_FIELDS:
            raise DataFormatError(
                f"{path}:{lineno}: expected at least {STSB_FIELDS} TAB-separated fields, "
                f"found {len(fields)}"
            )
        genre, _file, _year, _id, score, a, b = fields[:STSB_FIELDS]
        number = _parse_float(score, path, lineno, "score")
        gold.append(_check_range(number, path, lineno, "score", STS_SCALE))
        s1.append(a)
        s2.append(b)
        subsets.append(genre)
    _require_pairs(len(gold), path, "STS-B")
    return StsPairs(
        "STSBenchmark", s1, s2, np.asarray(gold, dtype=np.float64), subsets, [str(path)]
    )


def read_sick(path: PathLike) -> StsPairs:
    """One SICK file: header row, TAB, columns by name; subset = entailment judgment."""
    lines = read_lines(path)
    if not lines:
        raise DataFormatError(f"{path}:1: empty file, expected a header row")
    header = lines[0].split("\t")
    missing = [c for c in SICK_COLUMNS if c not in header]
    if missing:
        raise DataFormatError(f"{path}:1: header lacks column(s) {missing}; found {header}")
    ia, ib, isc, ij = (header.index(c) for c in SICK_COLUMNS)
    s1: list[str] = []
    s2: list[str] = []
    gold: list[float] = []
    subsets: list[str] = []
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataFormatError(
                f"{path}:{lineno}: expected {len(header)} TAB-separated fields, found {len(fields)}"
            )
        number = _parse_float(fields[isc], path, lineno, "relatedness_score")
        gold.append(_check_range(number, path, lineno, "relatedness_score", SICK_SCALE))
        s1.append(fields[ia])
        s2.append(fields[ib])
        subsets.append(fields[ij])
    _require_pairs(len(gold), path, "SICK, header only")
    return StsPairs(
        "SICKRelatedness", s1, s2, np.asarray(gold, dtype=np.float64), subsets, [str(path)]
    )


def load_task(task: str, senteval_root: PathLike, split: str = "test") -> StsPairs:
    """One of :data:`distilface.STS_TASKS` from a SentEval-layout root.

    STS12-16 only have ``split="test"``; STSBenchmark and SICKRelatedness take
    ``train``/``dev``/``test`` (SICK dev = ``SICK_trial.txt``, test = ``SICK_test_annotated.txt``).
    """
    root = Path(senteval_root)
    if task not in STS_TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(STS_TASKS)}")
    if task in STS_SUBSETS:
        if split != "test":
            raise ValueError(f"{task} has only a test split, not {split!r}")
        return read_sts_year(root / STS_DIRS[task], task)
    files = STSB_FILES if task == "STSBenchmark" else SICK_FILES
    if split not in files:
        raise ValueError(f"{task}: split must be one of {list(files)}, not {split!r}")
    if task == "STSBenchmark":
        path = root / STSB_DIR / files[split]
        reader = read_stsb
    else:
        path = root / SICK_DIR / files[split]
        reader = read_sick
    if not path.is_file():
        raise FileNotFoundError(f"{task} {split}: missing {path}")
    return reader(path)


# ---------------------------------------------------------------------------------------------
# training data


def read_corpus(path: PathLike) -> list[str]:
    """One sentence per line (stripped), each distinct sentence once, in first-seen order.

    Empty lines and exact repeats are skipped and counted in the log. Repeats are dropped
    because a contrastive batch or queue holding a sentence twice would use it as a negative
    of itself (100 of the first 3,200 wiki1m lines are repeats); the training loop's row ids and
    the teacher cache's rows both index this list, so they stay aligned."""
    sentences: list[str] = []
    seen: set[str] = set()
    skipped = repeats = 0
    for line in read_lines(path):
        line = line.strip()
        if not line:
            skipped += 1
        elif line in seen:
            repeats += 1
        else:
            seen.add(line)
            sentences.append(line)
    if not sentences:
        raise DataFormatError(f"{path}: no sentences")
    _log(
        "read_corpus",
        path=str(path),
        sentences=len(sentences),
        empty_lines_skipped=skipped,
        repeats_skipped=repeats,
    )
    return sentences


def read_nli(path: PathLike) -> list[tuple[str, str, str]]:
    """SimCSE's ``nli_for_simcse.csv``: header ``sent0,sent1,hard_neg``, quoted CSV fields."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError(f"{path}:1: empty file, expected header {NLI_HEADER}") from None
    except csv.Error as e:
        raise DataFormatError(f"{path}:{reader.line_num}: {e}") from e
    if header != NLI_HEADER:
        raise DataFormatError(f"{path}:1: header must be {NLI_HEADER}, found {header}")
    rows: list[tuple[str, str, str]] = []
    blank = 0
    try:
        for row in reader:
            if not row:
                blank += 1
                continue
            if len(row) != len(NLI_HEADER):
                raise DataFormatError(
                    f"{path}:{reader.line_num}: expected {len(NLI_HEADER)} fields, found {len(row)}"
                )
            rows.append((row[0], row[1], row[2]))
    except csv.Error as e:
        raise DataFormatError(f"{path}:{reader.line_num}: {e}") from e
    _log("read_nli", path=str(path), triplets=len(rows), blank_rows_skipped=blank)
    return rows


# ---------------------------------------------------------------------------------------------
# offline stand-ins built from the training splits (never dev or test)


def sick_triplets(path: PathLike) -> list[tuple[str, str, str]]:
    """Supervised triplets (premise, entailed, contradicted) from a SICK file (use the train split).

    DisCo's stage 2 fine-tunes on NLI triplets (SimCSE's nli_for_simcse.csv); offline, SICK's
    entailment labels are the only NLI-style labels here. A premise is a ``sentence_A``; its
    positives are the B's it ENTAILS; its hard negatives are the sentences it CONTRADICTS in
    either column (contradiction is symmetric, entailment is not). Every entailed B of a premise
    with at least one contradiction becomes one triplet, the premise's contradictions used in
    turn as hard negatives (SimCSE pairs one contradiction with each premise/entailment pair).
    On the real SICK_train.txt: 1,299 entailment pairs, 259 of them with a contradiction.
    Order: first appearance in the file; sentences are stripped.
    """
    pairs = read_sick(path)
    entailed: dict[str, list[str]] = {}
    contradicted: dict[str, list[str]] = {}
    for a, b, label in zip(pairs.sent1, pairs.sent2, pairs.subsets, strict=True):
        a, b, label = a.strip(), b.strip(), label.upper()
        if label == "ENTAILMENT":
            entailed.setdefault(a, []).append(b)
        elif label == "CONTRADICTION":
            for x, y in ((a, b), (b, a)):
                if y not in contradicted.setdefault(x, []):
                    contradicted[x].append(y)
    triplets = [
        (premise, positive, contradicted[premise][i % len(contradicted[premise])])
        for premise, positives in entailed.items()
        if contradicted.get(premise)
        for i, positive in enumerate(positives)
    ]
    if not triplets:
        raise DataFormatError(f"{path}: no premise with both an ENTAILMENT and a CONTRADICTION")
    _log("sick_triplets", path=str(path), premises=len(entailed), triplets=len(triplets))
    return triplets


def training_split_sentences(senteval_root: PathLike) -> list[str]:
    """The distinct sentences of the STS-B and SICK **training** splits, unlabelled, in order of
    first appearance (STS-B train, then SICK train): an in-domain corpus for DisCo's stage 1."""
    seen: dict[str, None] = {}
    for task in ("STSBenchmark", "SICKRelatedness"):
        pairs = load_task(task, senteval_root, split="train")
        for a, b in zip(pairs.sent1, pairs.sent2, strict=True):
            seen.setdefault(a.strip(), None)
            seen.setdefault(b.strip(), None)
    seen.pop("", None)
    return list(seen)


def write_triplets_csv(triplets: Sequence[tuple[str, str, str]], path: PathLike) -> None:
    """SimCSE's ``nli_for_simcse.csv`` format (header sent0,sent1,hard_neg), written atomically."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(NLI_HEADER)
    writer.writerows(triplets)
    write_text_atomic(path, buf.getvalue())


def write_corpus(sentences: Sequence[str], path: PathLike) -> None:
    """One sentence a line (the wiki1m format), written atomically."""
    if any("\n" in s for s in sentences):
        raise ValueError(f"{path}: a sentence contains a line break")
    write_text_atomic(path, "".join(s + "\n" for s in sentences))


#: data sets derived from the training splits: path under the data root -> builder kind
DERIVED_FILES: dict[str, str] = {
    "nli/sick_train_triplets.csv": "sick_triplets",
    "corpus/stsb_sick_train_sentences.txt": "train_split_sentences",
}


def build_derived(kind: str, senteval_root: PathLike, out: PathLike) -> None:
    """Write one of :data:`DERIVED_FILES` from a SentEval-layout root (training splits only)."""
    if kind == "sick_triplets":
        path = Path(senteval_root) / SICK_DIR / SICK_FILES["train"]
        write_triplets_csv(sick_triplets(path), out)
    elif kind == "train_split_sentences":
        write_corpus(training_split_sentences(senteval_root), out)
    else:
        raise ValueError(
            f"unknown derived data set {kind!r}; known: {sorted(DERIVED_FILES.values())}"
        )
