"""Student initialisation: a DistilBERT-layout encoder filled from a BERT teacher's layers.

DistilBERT (Sanh et al., 2019) initialises its 6-layer student from every other layer of
BERT-base. The same recipe applied to all-MiniLM-L6-v2 (a 6-layer, 384-d BertModel) with
``layers=(0, 2, 4)`` gives a 3-layer, 384-d, ~17.2 M-parameter DistilBERT student:

- embeddings: word embeddings and LayerNorm copied; BERT adds the token-type-0 vector to every
  token (DistilBERT has no token types), so that vector is folded into the position embeddings;
- each chosen layer: ``query/key/value/attention.output.dense`` -> ``q_lin/k_lin/v_lin/out_lin``,
  ``attention.output.LayerNorm`` -> ``sa_layer_norm``, ``intermediate.dense`` -> ``ffn.lin1``,
  ``output.dense`` -> ``ffn.lin2``, ``output.LayerNorm`` -> ``output_layer_norm``.

BERT's pooler (dense + tanh) has no DistilBERT counterpart and is dropped.

``layer_init="random"`` builds the same architecture (same width, same depth, the teacher's
embeddings and tokenizer) but leaves the transformer layers as BERT initialises them
(``initializer_range`` normal weights, zero biases, unit LayerNorms; seeded): a student that has
the teacher's vocabulary but has not learnt sentence similarity, like the papers' MLM-only
students before distillation (issue 24). Only the number of ``layers`` matters then.

Command line (used by the Snakemake rule ``student_init``)::

    python -m distilface.train.student --teacher bundled:all-MiniLM-L6-v2 --layers 0 2 4 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModel,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
    DistilBertTokenizerFast,
)

from distilface.core.io import atomic_dir
from distilface.data.models import load_pretrained, resolve_model

BERT_VOCAB_SIZE = 30522

# DistilBERT parameter name (inside transformer.layer.{i}.) <- BERT name (encoder.layer.{j}.)
_LAYER_MAP: dict[str, str] = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}


def load_vocab_tokenizer(folder: str | Path) -> DistilBertTokenizerFast:
    """Load a BERT-uncased WordPiece tokenizer from ``folder`` as ``DistilBertTokenizerFast``.

    ``DistilBertTokenizerFast(vocab_file=...)`` silently builds a 5-token vocabulary in
    transformers 5.x, so only ``from_pretrained(folder)`` is used, and the size is checked.
    """
    tok = DistilBertTokenizerFast.from_pretrained(str(folder))
    if len(tok) != BERT_VOCAB_SIZE:
        raise ValueError(
            f"{folder}: tokenizer has {len(tok)} tokens, expected {BERT_VOCAB_SIZE} "
            "(bert-base-uncased WordPiece vocabulary)"
        )
    return tok


def distilbert_config_from_bert(
    bert_config, n_layers: int, dropout: float = 0.1
) -> DistilBertConfig:
    """The DistilBERT config matching a BERT config's widths, with ``n_layers`` layers."""
    if bert_config.hidden_act != "gelu":
        raise ValueError(f"teacher activation {bert_config.hidden_act!r}; DistilBERT needs gelu")
    if abs(bert_config.layer_norm_eps - 1e-12) > 1e-15:
        raise ValueError(
            f"teacher layer_norm_eps {bert_config.layer_norm_eps}; DistilBERT hard-codes 1e-12"
        )
    return DistilBertConfig(
        vocab_size=bert_config.vocab_size,
        max_position_embeddings=bert_config.max_position_embeddings,
        n_layers=n_layers,
        n_heads=bert_config.num_attention_heads,
        dim=bert_config.hidden_size,
        hidden_dim=bert_config.intermediate_size,
        dropout=dropout,
        attention_dropout=dropout,
        activation="gelu",
        initializer_range=bert_config.initializer_range,
        pad_token_id=bert_config.pad_token_id,
    )


LAYER_INITS = ("copy", "random")


def distilbert_from_bert(
    bert: BertModel, layers: Sequence[int], layer_init: str = "copy", seed: int = 0
) -> DistilBertModel:
    """Copy ``bert``'s embeddings and the listed encoder layers into a new DistilBertModel.

    ``layer_init="random"``: copy the embeddings only; the ``len(layers)`` transformer layers
    keep BERT's initialisation, drawn after ``torch.manual_seed(seed)``."""
    if layer_init not in LAYER_INITS:
        raise ValueError(f"layer_init {layer_init!r}: choose one of {LAYER_INITS}")
    n_teacher = bert.config.num_hidden_layers
    bad = [i for i in layers if not 0 <= i < n_teacher]
    if not layers or bad:
        raise ValueError(f"layers {list(layers)} invalid for a {n_teacher}-layer teacher")
    cfg = distilbert_config_from_bert(bert.config, n_layers=len(layers))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        student = DistilBertModel(cfg)
    src = bert.state_dict()
    new: dict[str, torch.Tensor] = {
        "embeddings.word_embeddings.weight": src["embeddings.word_embeddings.weight"],
        "embeddings.position_embeddings.weight": src["embeddings.position_embeddings.weight"]
        + src["embeddings.token_type_embeddings.weight"][0],
        "embeddings.LayerNorm.weight": src["embeddings.LayerNorm.weight"],
        "embeddings.LayerNorm.bias": src["embeddings.LayerNorm.bias"],
    }
    for i, j in enumerate(layers if layer_init == "copy" else ()):
        for dst, srcname in _LAYER_MAP.items():
            for p in ("weight", "bias"):
                new[f"transformer.layer.{i}.{dst}.{p}"] = src[f"encoder.layer.{j}.{srcname}.{p}"]
    missing, unexpected = student.load_state_dict(new, strict=False)
    # position_ids-like buffers may be absent from state_dict; weights must all be covered
    missing = [k for k in missing if not k.endswith("position_ids")]
    if layer_init == "random":  # the layers are meant to keep their fresh initialisation
        missing = [k for k in missing if not k.startswith("transformer.layer.")]
    if missing or unexpected:
        raise RuntimeError(f"weight mapping incomplete: missing={missing} unexpected={unexpected}")
    return student


def student_from_teacher_layers(
    teacher_dir: str | Path,
    layers: Sequence[int] = (0, 2, 4),
    out_dir: str | Path = "student",
    layer_init: str = "copy",
    seed: int = 0,
) -> Path:
    """Build a DistilBERT-layout student from ``layers`` of a BERT teacher; save it as a HF folder.

    ``teacher_dir`` may be a folder or a ``bundled:`` name. The folder gets ``config.json``,
    ``model.safetensors``, the teacher's tokenizer (checked to hold 30,522 tokens) and
    ``student_init.json`` recording the recipe. ``layer_init="random"`` keeps the teacher's
    embeddings and draws ``len(layers)`` fresh layers (seed ``seed``). Returns ``out_dir``.
    """
    teacher_path = resolve_model(str(teacher_dir))
    bert = load_pretrained(teacher_path, AutoModel)  # refuses a partial load
    if not isinstance(bert, BertModel):
        raise TypeError(f"{teacher_path}: expected a BertModel teacher, got {type(bert).__name__}")
    student = distilbert_from_bert(bert, layers, layer_init, seed)
    tok = load_vocab_tokenizer(teacher_path)
    meta = {
        "recipe": "distilbert_from_bert_layers"
        if layer_init == "copy"
        else "bert_embeddings_random_layers",
        "teacher": str(teacher_dir),
        "teacher_path": str(teacher_path),
        "layers": list(layers),
        "layer_init": layer_init,
        **({"seed": seed} if layer_init == "random" else {}),
        "params": sum(p.numel() for p in student.parameters()),
    }
    with atomic_dir(out_dir) as tmp:
        student.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "student_init.json").write_text(json.dumps(meta, indent=2) + "\n")
    return Path(out_dir)


def random_student(
    config: DistilBertConfig | dict, out_dir: str | Path, tokenizer_dir: str | Path, seed: int = 0
) -> Path:
    """Save a randomly initialised DistilBERT (``config``) with a 30,522-token tokenizer.

    Used for the tests' tiny fixtures and the ``random`` student option; ``tokenizer_dir`` is any
    folder (or ``bundled:`` name) holding the bert-base-uncased vocabulary.
    """
    cfg = config if isinstance(config, DistilBertConfig) else DistilBertConfig(**config)
    tok = load_vocab_tokenizer(resolve_model(str(tokenizer_dir)))
    if cfg.vocab_size != len(tok):
        raise ValueError(f"config vocab_size {cfg.vocab_size} != tokenizer size {len(tok)}")
    torch.manual_seed(seed)
    model = DistilBertModel(cfg)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        meta = {"recipe": "random", "seed": seed, "config": cfg.to_dict()}  # after the save
        (tmp / "student_init.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return Path(out_dir)


def build_student(spec: dict, out_dir: str | Path) -> Path:
    """Build one ``training.students`` entry (rule ``student_init``, ``reproduce``): a
    DistilBERT-layout student from a teacher's layers (``from_layers``) or a static student by
    model2vec's distillation (``from_model2vec``, :mod:`distilface.train.static_student`)."""
    if "from_model2vec" in spec:
        from distilface.train.static_student import DEFAULTS, distil_static  # sklearn: lazy

        m2v = spec["from_model2vec"]
        settings = {k: m2v.get(k, default) for k, default in DEFAULTS.items()}
        return distil_static(m2v["teacher"], out_dir, **settings, progress=False)
    if "from_layers" in spec:
        fl = spec["from_layers"]
        return student_from_teacher_layers(
            fl["teacher"], fl["layers"], out_dir, fl.get("layer_init", "copy"), fl.get("seed", 0)
        )
    raise ValueError(f"a student needs from_layers or from_model2vec, got {sorted(spec)}")


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: build a student from teacher layers (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True, help="BERT teacher folder or bundled: name")
    ap.add_argument("--layers", type=int, nargs="+", default=[0, 2, 4])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--layer-init", choices=LAYER_INITS, default="copy")
    ap.add_argument("--seed", type=int, default=0, help="seed of --layer-init random")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    out = student_from_teacher_layers(
        args.teacher, args.layers, args.out, args.layer_init, args.seed
    )
    print(json.loads((out / "student_init.json").read_text()))


if __name__ == "__main__":
    main()
