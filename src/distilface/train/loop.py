"""The training loop: SimCSE (unsup / sup) and DisCo stage 1 (KD / CKD), one readable loop.

    cfg = TrainConfig(objective="simcse_unsup", student=..., data=corpus, out_dir=...)
    train(cfg)   # -> out_dir, a sentence-transformers folder + train_log.jsonl + train_summary.json

What one step does (SimCSE's recipe, princeton-nlp/SimCSE ``train.py`` + ``simcse/models.py``):

- ``simcse_unsup``: B corpus sentences are fed twice in one forward pass; dropout gives two
  views z1, z2; loss = :func:`losses.simcse_unsup_loss`.
- ``simcse_sup``: B NLI triplets (premise, entailment, contradiction), one forward of 3B;
  loss = :func:`losses.simcse_sup_loss`.
- ``disco_kd`` / ``disco_ckd``: B corpus sentences, one forward; targets are the cached teacher
  embeddings of the same rows (:mod:`distilface.train.teacher_cache`); a linear projection maps the
  student's width to the teacher's when they differ (training only); loss =
  :func:`losses.kd_mse_loss` / :func:`losses.ckd_loss`. DisCo's stage 2 is this same loop with
  ``simcse_unsup``/``simcse_sup`` starting from the stage-1 output.

Pooling: ``cls`` = [CLS] + an MLP (dense + tanh) used in training only, evaluated as
``cls_before_pooler`` (SimCSE's ``--pooler_type cls --mlp_only_train``); ``cls_before_pooler``
(no MLP) and ``avg`` (masked mean) are used as they are in training and evaluation.

Optimiser: AdamW (betas 0.9/0.999, eps 1e-8, as the HF Trainer SimCSE used), linear decay with
optional warm-up, gradient clipping. bf16 autocast on CUDA, float32 on CPU. Every ``eval_every``
steps the STS-B dev Spearman is measured and the best backbone kept (SimCSE's
``--load_best_model_at_end --metric_for_best_model stsb_spearman``). A checkpoint (weights,
optimiser, scheduler, RNG states, data position) is written atomically every
``checkpoint_every`` steps; a restarted run resumes from it and ends with bit-identical weights.

Throughput switches (all off by default; off, the loop is the plain one above):
``bucket_window`` (sort each window of that many batches by token length, then shuffle the
window's batches), ``pad_to_multiple_of`` (e.g. 8, for tensor cores; padding is masked, so the
embeddings do not change), ``fused_adamw`` (CUDA's fused AdamW kernel; on another device the
default AdamW, with a logged notice) and ``torch_compile`` (the training forward compiled with
static shapes, ``"default"`` or ``"reduce-overhead"`` = CUDA graphs; needs ``pad_to_multiple_of``
or ``pad_to_max_length`` so the shapes are few; the dynamo graph count is logged).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import pickle
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from distilface.core.devices import resolve_device
from distilface.core.io import atomic_dir, write_json_atomic, write_text_atomic, write_with_atomic
from distilface.core.logs import log_event
from distilface.core.names import TRAIN_OBJECTIVES, TRAIN_POOLINGS, TRAIN_TO_EVAL_POOLING
from distilface.data.models import load_pretrained, resolve_model, transformer_dir
from distilface.data.readers import load_task, read_corpus, read_nli
from distilface.evaluate.encoders import distinct, length_sorted_batches
from distilface.evaluate.pooling import pool
from distilface.evaluate.sts import correlations, cosine_scores
from distilface.train import losses
from distilface.train.grid import OBJECTIVE_HPARAMS
from distilface.train.teacher_cache import load_teacher_cache

logger = logging.getLogger(__name__)

ST_POOLING_MODE = {"cls_before_pooler": "cls", "avg": "mean"}
#: ``torch_compile`` values: off, or a ``torch.compile`` mode
COMPILE_MODES = (None, "default", "reduce-overhead")
#: ``projection_init``: torch's default (DistilCSE's ``nn.Linear``) or a least-squares fit
PROJECTION_INITS = ("random", "lstsq")
#: corpus rows the ``lstsq`` projection is fitted on (10x the unknowns of a 384 -> 768 head)
LSTSQ_ROWS = 4096


@dataclass
class TrainConfig:
    """Everything one training run needs. Paths may be str or Path."""

    objective: str  # simcse_unsup | simcse_sup | disco_kd | disco_ckd
    student: str  # HF / sentence-transformers folder, bundled: name or hub name
    out_dir: str | Path
    data: str | Path | None = None  # corpus (one sentence a line) or NLI csv (simcse_sup)
    teacher_cache: str | Path | None = None  # .npy from teacher_cache (disco_*)
    senteval_root: str | Path | None = None  # STS-B dev for evaluation; None = no evaluation
    corpus_limit: int | None = None  # use only the first N examples
    temperature: float = 0.05
    hard_negative_weight: float = 0.0
    batch_size: int = 64
    learning_rate: float = 3e-5
    epochs: int = 1
    max_steps: int | None = None  # overrides epochs (HF Trainer semantics)
    max_seq_length: int = 32
    dropout: float = 0.1
    pooling: str = "cls"
    warmup_ratio: float = 0.0
    warmup_of: str = "total"  # warm-up = ratio x (all steps | one epoch's steps: DistilCSE)
    scheduler: str = "linear"  # linear (HF Trainer, SimCSE) | cosine (DistilCSE)
    adam_beta2: float = 0.999  # AdamW betas (0.9, this): 0.999 HF Trainer, 0.98 DistilCSE
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    learn_temperature: bool = False  # learn tau as exp(-logit_scale) (DistilCSE CKD)
    queue_size: int = 0  # disco_ckd: past teacher vectors as extra negatives (DistilCSE)
    mse_weight: float = 0.0  # disco_ckd: + w x MSE(W s, t) (DistilCSE --mse, off there)
    projection_init: str = "random"  # disco_*: random (DistilCSE) | lstsq (ours, issue 24)
    patience: int | None = None  # stop after this many epochs without a new best dev score
    eval_at_start: bool = False  # score the untouched model at step 0 (a candidate best)
    pad_to_max_length: bool = False  # pad every batch to max_seq_length (static shapes)
    pad_to_multiple_of: int | None = None  # pad each batch's length up to a multiple (8: TF32/bf16)
    bucket_window: int | None = None  # sort each window of this many batches by token length
    fused_adamw: bool = False  # torch's fused AdamW kernel (CUDA; elsewhere: default + notice)
    torch_compile: str | None = None  # None | "default" | "reduce-overhead" (CUDA graphs)
    eval_every: int = 125
    eval_batch_size: int = 128
    eval_max_length: int = 512  # SimCSE's in-training evaluation pads without truncation
    log_every: int = 25
    checkpoint_every: int | None = 250
    work_dir: str | Path | None = None  # checkpoints, best model, log; default <out_dir>.partial
    seed: int = 42
    device: str = "auto"
    keep_work_dir: bool = False
    progress: bool = True
    extra: dict = field(default_factory=dict)  # recorded in the summary (e.g. grid run id)

    def __post_init__(self) -> None:
        if self.objective not in TRAIN_OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: choose one of {TRAIN_OBJECTIVES}")
        if self.pooling not in TRAIN_POOLINGS:
            raise ValueError(f"pooling {self.pooling!r}: choose one of {TRAIN_POOLINGS}")
        if self.objective.startswith("disco") and self.teacher_cache is None:
            raise ValueError(f"objective {self.objective} needs teacher_cache")
        if self.data is None:
            raise ValueError("data (corpus or NLI file) is required")
        if self.projection_init != "random" and not self.objective.startswith("disco"):
            raise ValueError(f"projection_init is read by disco_* only, not {self.objective}")
        for name in ("batch_size", "epochs", "max_seq_length", "eval_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (in-batch negatives)")
        choices = {
            "warmup_of": ("total", "epoch"),
            "scheduler": ("linear", "cosine"),
            "projection_init": PROJECTION_INITS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} {getattr(self, name)!r}: choose one of {allowed}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.queue_size < 0 or self.mse_weight < 0:
            raise ValueError("queue_size and mse_weight must be >= 0")
        if self.learn_temperature and self.objective == "disco_kd":
            raise ValueError("learn_temperature: disco_kd's MSE loss has no temperature")
        if (self.queue_size or self.mse_weight) and self.objective != "disco_ckd":
            raise ValueError(
                f"queue_size / mse_weight are read by disco_ckd only, not {self.objective}"
            )
        if self.patience is not None and self.patience < 0:
            raise ValueError(f"patience must be >= 0 or null, got {self.patience}")
        for name in ("pad_to_multiple_of", "bucket_window"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {getattr(self, name)}")
        if self.torch_compile not in COMPILE_MODES:
            raise ValueError(f"torch_compile {self.torch_compile!r}: choose one of {COMPILE_MODES}")
        if self.torch_compile and not (self.pad_to_multiple_of or self.pad_to_max_length):
            raise ValueError(
                "torch_compile compiles one graph per batch shape: set pad_to_multiple_of "
                "(e.g. 8) or pad_to_max_length so the shapes are few"
            )

    @classmethod
    def from_dict(cls, values: dict, **overrides) -> TrainConfig:
        """Build from a config mapping; unknown keys are an error naming them."""
        merged = {**values, **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; known: {sorted(known)}")
        return cls(**merged)

    @property
    def eval_pooling(self) -> str:
        """The pooling the trained model is evaluated (and saved) with."""
        return TRAIN_TO_EVAL_POOLING[self.pooling]


# ---------------------------------------------------------------------------------------------
# model


class SentenceModel(nn.Module):
    """Transformer backbone + pooling (+ training-only MLP head and projection)."""

    def __init__(
        self,
        backbone: nn.Module,
        pooling: str,
        teacher_dim: int | None = None,
        temperature: float = 0.05,
        learn_temperature: bool = False,
    ):
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        hidden = int(backbone.config.hidden_size)
        init = float(getattr(backbone.config, "initializer_range", 0.02))
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh()) if pooling == "cls" else None
        self.projection = (
            nn.Linear(hidden, teacher_dim) if teacher_dim and teacher_dim != hidden else None
        )
        # SimCSE's MLP gets BERT's init, N(0, 0.02) and zero bias (its ``cl_init``); DisCo's
        # projection keeps torch's nn.Linear default, as DistilCSE's ``self.linear``.
        for m in self.mlp.modules() if self.mlp is not None else ():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=init)
                nn.init.zeros_(m.bias)
        self.logit_scale = losses.LogitScale(temperature, learn_temperature)
        self._accepted = set(inspect.signature(backbone.forward).parameters)

    def forward(self, batch: dict[str, torch.Tensor], head: bool = True) -> torch.Tensor:
        """Pooled sentence embeddings; ``head=False`` skips the MLP (evaluation)."""
        inputs = {k: v for k, v in batch.items() if k in self._accepted}
        out = self.backbone(**inputs, return_dict=True)
        hidden = out.last_hidden_state.float()  # pool in float32 (bf16 autocast on CUDA)
        z = pool(TRAIN_TO_EVAL_POOLING[self.pooling], batch["attention_mask"], (hidden,))
        if head and self.mlp is not None:
            z = self.mlp(z)
        return z


def load_backbone(path: str, dropout: float) -> tuple[nn.Module, object]:
    """AutoModel + tokenizer from ``path`` (ST folders unwrapped), dropout set to ``dropout``."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = resolve_model(path)
    local = Path(path)
    model_dir = str(transformer_dir(local)) if local.is_dir() else path
    config = AutoConfig.from_pretrained(model_dir)
    names = ("dropout", "attention_dropout", "hidden_dropout_prob", "attention_probs_dropout_prob")
    overrides = {n: dropout for n in names if hasattr(config, n)}
    if not overrides:
        raise ValueError(f"{model_dir}: no dropout setting found in {type(config).__name__}")
    config.update(overrides)
    model = load_pretrained(model_dir, AutoModel, config=config, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(f"{model_dir}: tokenizer ({len(tokenizer)}) > vocab_size")
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class TrainData:
    """Training examples: sentences (unsup / disco), triplets (sup), teacher rows (disco)."""

    examples: list  # list[str] or list[tuple[str, str, str]]
    teacher: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.examples)


def load_train_data(cfg: TrainConfig) -> TrainData:
    """Read the corpus / NLI file (and teacher cache), cut to ``corpus_limit``."""
    if cfg.objective == "simcse_sup":
        examples: list = read_nli(cfg.data)
    else:
        examples = read_corpus(cfg.data)
    teacher = None
    examples = examples[: cfg.corpus_limit]
    if cfg.objective.startswith("disco"):
        arr = load_teacher_cache(cfg.teacher_cache, cfg.data)  # rows = a prefix of the corpus
        if len(arr) < len(examples):
            raise ValueError(
                f"{cfg.teacher_cache}: {len(arr)} rows, training uses {len(examples)} sentences "
                f"of {cfg.data} (corpus_limit={cfg.corpus_limit})"
            )
        teacher = torch.from_numpy(np.array(arr[: len(examples)], dtype=np.float32))
    if len(examples) < 2:
        raise ValueError(f"{cfg.data}: {len(examples)} examples; need at least 2")
    return TrainData(examples, teacher)


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Full batches plus the remainder when it has >= 2 examples (1 cannot be contrasted)."""
    return n // batch_size + (1 if n % batch_size >= 2 else 0)


class BatchOrder:
    """The corpus rows of batch ``pos`` of an epoch, from that epoch's permutation.

    Plain: consecutive slices of the permutation. With ``bucket_window`` W: the rows of each W
    consecutive batches are sorted by token length (stable), cut into W batches, and those
    batches shuffled by a generator seeded with (seed, epoch, window): less padding, the same
    rows per epoch, and a pure function of (permutation, epoch, pos), so a resumed run gets the
    same batches. Token lengths are measured once per row, when its window is first met.
    """

    def __init__(self, cfg: TrainConfig, data: TrainData, tokenizer, per_epoch: int):
        self.cfg, self.data, self.tokenizer = cfg, data, tokenizer
        self.used = min(per_epoch * cfg.batch_size, len(data))  # a lone last row is skipped
        self.lengths = np.full(len(data), -1, dtype=np.int64)
        self._key: tuple[int, int] | None = None
        self._batches: list[torch.Tensor] = []

    def rows(self, perm: torch.Tensor, epoch: int, pos: int) -> torch.Tensor:
        """Corpus row indices of batch ``pos`` (0-based) of epoch ``epoch``."""
        size, window = self.cfg.batch_size, self.cfg.bucket_window
        if not window:
            return perm[pos * size : (pos + 1) * size]
        w, k = divmod(pos, window)
        if self._key != (epoch, w):
            chunk = perm[w * window * size : min((w + 1) * window * size, self.used)]
            ranked = chunk[np.argsort(self._token_lengths(chunk), kind="stable")]
            batches = list(ranked.split(size))
            shuffle = np.random.default_rng([self.cfg.seed, epoch, w]).permutation(len(batches))
            self._key, self._batches = (epoch, w), [batches[i] for i in shuffle]
        return self._batches[k]

    def _token_lengths(self, rows: torch.Tensor) -> np.ndarray:
        """Truncated token counts of ``rows`` (a triplet: its longest sentence)."""
        idx = rows.numpy()
        todo = idx[self.lengths[idx] < 0]
        if len(todo):
            examples = [self.data.examples[i] for i in todo]
            triplets = self.cfg.objective == "simcse_sup"
            texts = [t for ex in examples for t in ex] if triplets else examples
            enc = self.tokenizer(
                texts, truncation=True, max_length=self.cfg.max_seq_length, return_length=True
            )
            counts = np.asarray(enc["length"], dtype=np.int64)
            self.lengths[todo] = counts.reshape(len(todo), -1).max(axis=1)
        return self.lengths[idx]


def make_batch(
    cfg: TrainConfig, data: TrainData, idx: torch.Tensor, tokenizer, device: torch.device
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, int]:
    """Tokenised inputs (dynamic padding), teacher targets (or None) and the sentence count."""
    rows = idx.tolist()
    if cfg.objective == "simcse_unsup":
        sents = [data.examples[i] for i in rows]
        texts = sents + sents  # two dropout views in one forward pass
    elif cfg.objective == "simcse_sup":
        trip = [data.examples[i] for i in rows]
        texts = [t[0] for t in trip] + [t[1] for t in trip] + [t[2] for t in trip]
    else:
        texts = [data.examples[i] for i in rows]
    enc = tokenizer(
        texts,
        padding="max_length" if cfg.pad_to_max_length else True,
        truncation=True,
        max_length=cfg.max_seq_length,
        pad_to_multiple_of=cfg.pad_to_multiple_of,
        return_tensors="pt",
    )
    batch = {k: v.to(device) for k, v in enc.items()}
    target = data.teacher[idx].to(device) if data.teacher is not None else None
    return batch, target, len(rows)


def compute_loss(
    cfg: TrainConfig,
    model: SentenceModel,
    batch: dict,
    target: torch.Tensor | None,
    idx: torch.Tensor,
    queue: losses.TeacherQueue,
) -> torch.Tensor:
    """The objective's loss for one batch of corpus rows ``idx`` (CKD also updates ``queue``)."""
    n = len(idx)
    z = model(batch)
    tau = model.logit_scale() if cfg.learn_temperature else cfg.temperature
    if cfg.objective == "simcse_unsup":
        return losses.simcse_unsup_loss(z[:n], z[n:], tau)
    if cfg.objective == "simcse_sup":
        return losses.simcse_sup_loss(
            z[:n], z[n : 2 * n], z[2 * n :], tau, cfg.hard_negative_weight
        )
    if cfg.objective == "disco_kd":
        return losses.kd_mse_loss(z.float(), target, model.projection)
    same_row = queue.same_row(idx) if len(queue) else None
    loss = losses.ckd_loss(
        z.float(), target, tau, model.projection, queue.vectors, same_row, cfg.mse_weight
    )
    queue.push(target, idx)
    return loss


# ---------------------------------------------------------------------------------------------
# evaluation


class DevSet:
    """STS-B dev made ready once per run for its many scorings: the distinct sentences of both
    sides tokenised once and cut longest first into padded batches kept on ``device`` (the
    evaluator's :func:`~distilface.evaluate.encoders.length_sorted_batches`). On 2 CPU cores a
    scoring of the 3-layer student takes 2.8 s this way against 6.6 s for each side in file
    order (2.4x), with the same Spearman (``benchmarks/bench_dev_scoring.py``; its JSON in
    ``results/reference/cpu-bench/``)."""

    def __init__(self, dev, tokenizer, batch_size: int, max_length: int, device: torch.device):
        unique, inverse = distinct([*dev.sent1, *dev.sent2])
        self.pairs = inverse.reshape(2, len(dev.sent1))
        self.gold = np.asarray(dev.gold, dtype=np.float64)
        self.n_unique = len(unique)
        self.batches = [
            (rows, {k: v.to(device) for k, v in batch.items()})
            for rows, batch in length_sorted_batches(tokenizer, unique, batch_size, max_length)
        ]

    @torch.no_grad()
    def embed(self, model: SentenceModel) -> np.ndarray:
        """Evaluation embeddings (no dropout, no MLP head) of the distinct sentences, float32."""
        was_training = model.training
        model.eval()
        out: np.ndarray | None = None
        with _autocast(next(model.parameters()).device):
            for rows, batch in self.batches:
                z = model(batch, head=False).float().cpu().numpy()
                if out is None:
                    out = np.zeros((self.n_unique, z.shape[1]), np.float32)
                out[rows] = z
        model.train(was_training)
        assert out is not None, "an empty STS-B dev set"
        return out


def stsb_dev_spearman(model: SentenceModel, dev: DevSet) -> float:
    """STS-B dev Spearman x 100 of cosine similarity (SimCSE's ``stsb_spearman``), scored by
    the evaluator's own functions."""
    emb = dev.embed(model)
    return correlations(cosine_scores(emb[dev.pairs[0]], emb[dev.pairs[1]]), dev.gold)[0]


# ---------------------------------------------------------------------------------------------
# files


def _autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing (float32) elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def save_sentence_transformer(hf_dir: Path, out_dir: Path, eval_pooling: str, max_len: int) -> None:
    """Wrap a HF folder as a sentence-transformers folder whose pooling equals ``eval_pooling``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    tr = Transformer(str(hf_dir), max_seq_length=max_len)
    pl = Pooling(tr.get_embedding_dimension(), pooling_mode=ST_POOLING_MODE[eval_pooling])
    SentenceTransformer(modules=[tr, pl], device="cpu").save(str(out_dir))


def save_hf(model: SentenceModel, tokenizer, dest: Path) -> None:
    """The backbone and tokenizer as a HF folder at ``dest``, replaced atomically (the best and
    the final model are both saved by this)."""
    with atomic_dir(dest) as tmp:
        model.backbone.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


class JsonlLog:
    """Append-only JSON-lines training log that can be cut back to a resumed step."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        if resume_step is None:
            write_text_atomic(path, "")
        elif path.exists():
            kept = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------------------------------------
# the loop's state: progress, throughput, checkpoint


@dataclass
class Progress:
    """Where the loop is: optimiser steps, epoch, batch within the epoch, best dev score."""

    step: int = 0
    epoch: int = 0
    pos: int = 0
    best_dev: float | None = None
    best_step: int | None = None
    best_epoch: int = 0
    stopped_early: bool = False
    start_dev: float | None = None  # STS-B dev of the untouched model (eval_at_start)
    last_dev: float | None = None  # the last STS-B dev scored (the final step's, normally)
    last_dev_step: int | None = None
    collapsed_steps: list[int] = field(default_factory=list)  # dev score <= 0 or undefined


class Meter:
    """Training throughput: the mean loss, sentences/s, steps/s and tokens/s (padded, what the
    model computes on) of the logging window, and the run's totals. Only the time between
    :meth:`start` and :meth:`stop` counts: evaluation, checkpoints and logging are excluded."""

    KEYS = ("elapsed", "sentences", "win_loss", "win_steps", "win_sents", "win_tokens", "win_time")

    def __init__(self) -> None:
        self.elapsed, self.sentences = 0.0, 0
        self.reset_window()
        self._t0 = 0.0

    def reset_window(self) -> None:
        self.win_loss, self.win_steps, self.win_sents, self.win_tokens, self.win_time = (
            0.0, 0, 0, 0, 0.0
        )  # fmt: skip

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self, loss: float, sentences: int, tokens: int) -> None:
        """Count one optimiser step that began at :meth:`start`."""
        seconds = time.perf_counter() - self._t0
        self.elapsed += seconds
        self.sentences += sentences
        self.win_time += seconds
        self.win_loss += loss
        self.win_steps += 1
        self.win_sents += sentences
        self.win_tokens += tokens

    def window(self) -> dict:
        """The window's mean loss and rates (all None when it has no step, e.g. at step 0)."""
        steps, secs = self.win_steps, max(self.win_time, 1e-9)
        if not steps:
            return dict.fromkeys(("loss", "sentences_per_s", "steps_per_s", "tokens_per_s"))
        return {
            "loss": self.win_loss / steps,
            "sentences_per_s": round(self.win_sents / secs, 2),
            "steps_per_s": round(steps / secs, 4),
            "tokens_per_s": round(self.win_tokens / secs, 1),
        }

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.KEYS}

    def load_state_dict(self, state: dict) -> None:
        for k in self.KEYS:
            setattr(self, k, state[k])


#: settings that may differ between an interrupted run and its resumption
RESUME_FREE = ("out_dir", "work_dir", "progress", "keep_work_dir", "extra", "device")


def _check_same_run(saved: dict, cfg: TrainConfig, path: Path) -> None:
    """Refuse to resume a checkpoint written by a run with other settings."""
    now = asdict(cfg)
    diff = {
        k: (saved.get(k), now[k])
        for k in now
        if k not in RESUME_FREE and str(saved.get(k)) != str(now[k])
    }
    if diff:
        raise ValueError(
            f"{path} was written by a run with other settings {diff} (saved, now); "
            "delete it to start afresh"
        )


class Checkpoint:
    """Everything a resumed run needs to end bit-identical: the live ``parts`` (model,
    optimiser, scheduler, teacher queue: anything with ``state_dict``), the loop's
    :class:`Progress` and :class:`Meter`, the torch (and CUDA) RNG and the data order (the
    data generator's state at the epoch's start; the position is ``progress.pos``)."""

    FORMAT = 2  # 1: the 11-key ``state`` dict of distilface before the loop's rewrite

    def __init__(self, path: Path, cfg: TrainConfig, n_examples: int, **parts) -> None:
        self.path, self.cfg, self.n, self.parts = path, cfg, n_examples, parts
        self.progress, self.meter = Progress(), Meter()
        self.data_rng = torch.Generator().manual_seed(cfg.seed)
        self.epoch_start = self.data_rng.get_state()
        self.perm = torch.randperm(n_examples, generator=self.data_rng)

    def next_epoch(self) -> None:
        """Move to the next epoch's first batch, with a fresh data order."""
        self.progress.epoch += 1
        self.progress.pos = 0
        self.epoch_start = self.data_rng.get_state()
        self.perm = torch.randperm(self.n, generator=self.data_rng)

    def save(self) -> None:
        """Write the checkpoint atomically (a kill leaves the previous one whole)."""
        state = {name: part.state_dict() for name, part in self.parts.items()}
        rng = {"torch": torch.get_rng_state(), "data_epoch_start": self.epoch_start}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        state.update(
            format=self.FORMAT,
            progress=asdict(self.progress),
            meter=self.meter.state_dict(),
            rng=rng,
            config=json.loads(json.dumps(asdict(self.cfg), default=str)),  # plain data only
        )
        write_with_atomic(self.path, lambda tmp: torch.save(state, tmp))

    def restore(self) -> int | None:
        """Load the checkpoint at ``path`` if there is one (the same run's, else an error);
        returns the step it resumes from, None when there is none."""
        if not self.path.is_file():
            return None
        try:  # tensors and plain data only: a checkpoint can never run code when loaded
            ck = torch.load(self.path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{self.path}: not a plain checkpoint (it holds objects that only an unsafe "
                f"load would build: {str(err).splitlines()[0]}); delete it to start afresh"
            ) from err
        if not isinstance(ck, dict) or ck.get("format") != self.FORMAT:
            found = ck.get("format", 1) if isinstance(ck, dict) else "unknown"
            raise ValueError(
                f"{self.path}: checkpoint format {found}, this distilface reads format "
                f"{self.FORMAT} (written before the training loop's rewrite?); delete it to "
                "start the run afresh"
            )
        _check_same_run(ck["config"], self.cfg, self.path)
        for name, part in self.parts.items():
            part.load_state_dict(ck[name])
        self.progress = Progress(**ck["progress"])
        self.meter.load_state_dict(ck["meter"])
        torch.set_rng_state(ck["rng"]["torch"])
        if "cuda" in ck["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        self.epoch_start = ck["rng"]["data_epoch_start"]
        self.data_rng.set_state(self.epoch_start)
        self.perm = torch.randperm(self.n, generator=self.data_rng)
        return self.progress.step


# ---------------------------------------------------------------------------------------------
# the loop


def _optimizer(cfg: TrainConfig, model: nn.Module, total: int, per_epoch: int, device):
    """AdamW (no decay on biases / LayerNorm / the logit scale) and the LR schedule.

    ``fused_adamw`` uses torch's fused kernel on CUDA; on another device it logs a notice and
    uses the default AdamW (so one config runs on a laptop and on a GPU)."""
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    fused = {}
    if cfg.fused_adamw and device.type == "cuda":
        fused = {"fused": True}
    elif cfg.fused_adamw:
        log_event(logger, "fused_adamw needs CUDA: using the default AdamW", device=str(device))
    optim = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
        betas=(0.9, cfg.adam_beta2),
        eps=1e-8,
        **fused,
    )
    warmup = math.ceil(cfg.warmup_ratio * (per_epoch if cfg.warmup_of == "epoch" else total))
    schedule = (
        get_cosine_schedule_with_warmup
        if cfg.scheduler == "cosine"
        else get_linear_schedule_with_warmup
    )
    return optim, schedule(optim, warmup, total)


def compiled_graphs() -> int:
    """Graphs ``torch._dynamo`` has compiled in this process (flat in steady state: no
    recompiles)."""
    from torch._dynamo.utils import counters  # dynamo only when torch_compile is on

    return int(counters["stats"]["unique_graphs"])


def _training_forward(cfg: TrainConfig, model: SentenceModel) -> nn.Module:
    """The module the training steps call: ``model``, or with ``torch_compile`` its compiled
    twin (static shapes, one graph per padded length and batch size; evaluation and the saved
    weights use ``model`` itself)."""
    if not cfg.torch_compile:
        return model
    import torch._dynamo  # only when compiling (import cost)

    lengths = 1 if cfg.pad_to_max_length else math.ceil(cfg.max_seq_length / cfg.pad_to_multiple_of)
    limit = 2 * lengths + 2  # x (full batch, last short batch), + margin
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
    return torch.compile(model, mode=cfg.torch_compile, dynamic=False)


def _step(cfg, forward, optim, sched, batch, target, idx, queue, where: str) -> float:
    """One optimiser step on one batch; its loss (a non-finite loss raises, naming ``where``)."""
    with _autocast(idx.device):
        loss = compute_loss(cfg, forward, batch, target, idx, queue)
    value = float(loss.item())
    if not math.isfinite(value):
        raise FloatingPointError(f"non-finite loss {value} at {where}; no model written")
    optim.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        nn.utils.clip_grad_norm_(forward.parameters(), cfg.grad_clip)
    optim.step()
    sched.step()
    return value


def _reads_temperature(cfg: TrainConfig) -> bool:
    """Whether ``cfg.objective``'s loss reads a temperature (not disco_kd's MSE)."""
    return cfg.objective in OBJECTIVE_HPARAMS["temperature"]


def _temperature(cfg: TrainConfig, model: SentenceModel) -> float | None:
    """The temperature the loss uses now (learnt or fixed); None where the loss has none."""
    return float(model.logit_scale().detach()) if _reads_temperature(cfg) else None


def _config_record(cfg: TrainConfig) -> dict:
    """``cfg`` for ``train_summary.json`` (paths as strings; no temperature where the loss
    reads none, so a KD run's summary and model card do not show the unused default)."""
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    if not _reads_temperature(cfg):
        record["temperature"] = None
    return record


def _log_record(cfg, p: Progress, per_epoch: int, meter: Meter, sched, model, dev_score) -> dict:
    """One ``train_log.jsonl`` line: the logging window's mean loss and speed (None at step 0)."""
    window = meter.window()
    record = {
        "step": p.step,
        "epoch": round(p.step / per_epoch, 4),
        "loss": window["loss"],
        "lr": sched.get_last_lr()[0],
        "stsb_dev": dev_score,
        "temperature": _temperature(cfg, model),
        "sentences_per_s": window["sentences_per_s"],
        "steps_per_s": window["steps_per_s"],
        "tokens_per_s": window["tokens_per_s"],
        "elapsed_s": round(meter.elapsed, 3),
    }
    if cfg.torch_compile:
        record["compiled_graphs"] = compiled_graphs()
    return record


def _setup(cfg: TrainConfig, device: torch.device):
    """Data, model (on ``device``, in training mode), tokenizer and teacher queue."""
    torch.manual_seed(cfg.seed)
    data = load_train_data(cfg)
    backbone, tokenizer = load_backbone(str(cfg.student), cfg.dropout)
    teacher_dim = int(data.teacher.shape[1]) if data.teacher is not None else None
    model = SentenceModel(
        backbone, cfg.pooling, teacher_dim, cfg.temperature, cfg.learn_temperature
    ).to(device)
    if cfg.projection_init == "lstsq":
        fit_projection_lstsq(model, data, tokenizer, cfg.max_seq_length, device)
    model.train()
    return data, model, tokenizer, losses.TeacherQueue(cfg.queue_size, device)


@torch.no_grad()
def fit_projection_lstsq(
    model: SentenceModel, data: TrainData, tokenizer, max_length: int, device: torch.device
) -> float:
    """Set DisCo's student -> teacher projection to the least-squares map, before step 1.

    ``min_W,b ||[z 1] [W; b] - t||^2`` over the first :data:`LSTSQ_ROWS` corpus rows, ``z``
    the untouched student's pooled embeddings (evaluation mode: no dropout), ``t`` their cached
    teacher vectors; no label is read. DistilCSE starts the projection at torch's default
    ``nn.Linear`` init (``projection_init: random``): on a student that already embeds
    sentences well, the first steps' large loss then reshapes the student before the head has
    learnt anything (issue 24's probes: STS-B dev 73.81 -> 68.5 in 15 CKD steps). This is our
    deviation, labelled so in the config. Returns the fit's mean squared residual."""
    if model.projection is None:
        raise ValueError(
            "projection_init lstsq: the student and teacher widths are equal, so there is no "
            "projection to fit (set projection_init: random)"
        )
    n = min(LSTSQ_ROWS, len(data))
    texts = [str(t) for t in data.examples[:n]]
    was_training = model.training
    model.eval()
    z = torch.zeros(n, model.projection.in_features)
    for rows, batch in length_sorted_batches(tokenizer, texts, 128, max_length):
        z[torch.as_tensor(rows)] = model({k: v.to(device) for k, v in batch.items()}).float().cpu()
    model.train(was_training)
    x = torch.cat([z, torch.ones(n, 1)], dim=1).double()
    t = data.teacher[:n].double()
    solution = torch.linalg.lstsq(x, t).solution  # (in + 1, out)
    model.projection.weight.copy_(solution[:-1].T.float())
    model.projection.bias.copy_(solution[-1].float())
    mse = float(((x @ solution - t) ** 2).mean())
    log_event(logger, "projection fitted", method="lstsq", rows=n, mse=round(mse, 6))
    return mse


def _dev_set(cfg: TrainConfig, dev, tokenizer, device: torch.device) -> DevSet | None:
    """``dev`` (else STS-B dev from ``cfg.senteval_root``, if set) prepared for scoring."""
    if dev is None and cfg.senteval_root is not None:
        dev = load_task("STSBenchmark", cfg.senteval_root, split="dev")
    if dev is None:
        return None
    return DevSet(dev, tokenizer, cfg.eval_batch_size, cfg.eval_max_length, device)


def train(
    cfg: TrainConfig,
    *,
    dev=None,
    step_callback: Callable[[int], None] | None = None,
) -> Path:
    """Train, keep the best STS-B dev model, write ``cfg.out_dir``; return it.

    ``dev`` overrides the STS-B dev pairs (a :class:`~distilface.types.StsPairs`); by default they
    are read from ``cfg.senteval_root`` when set. ``step_callback(step)`` runs after every
    optimiser step (and after that step's checkpoint). With ``patience`` set, training stops at
    the start of an epoch that is more than ``patience`` epochs after the best dev score's
    (DistilCSE's ``epoch - pre_epoch > early_stop``, ``ckd_contrastive.py`` l. 260); the best
    weights are what is saved either way. (Over 60 lines on purpose: the whole loop reads top to
    bottom in one place, as nanoGPT's; each part is a helper call.)
    """
    out_dir = Path(cfg.out_dir)
    work = Path(cfg.work_dir) if cfg.work_dir else out_dir.with_name(out_dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    device = torch.device(resolve_device(cfg.device))
    data, model, tokenizer, queue = _setup(cfg, device)
    dev = _dev_set(cfg, dev, tokenizer, device)
    per_epoch = batches_per_epoch(len(data), cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps else cfg.epochs * per_epoch
    optim, sched = _optimizer(cfg, model, total, per_epoch, device)
    ck = Checkpoint(work / "checkpoint" / "state.pt", cfg, len(data), model=model,
                    optimizer=optim, scheduler=sched, queue=queue)  # fmt: skip
    resumed_from = ck.restore()
    p, meter, order = ck.progress, ck.meter, BatchOrder(cfg, data, tokenizer, per_epoch)
    log = JsonlLog(work / "train_log.jsonl", resumed_from)
    forward = _training_forward(cfg, model)

    def evaluate_dev() -> float:
        """STS-B dev now; keeps the best weights in ``work/best`` (never a collapsed model)."""
        score = stsb_dev_spearman(model, dev)
        p.last_dev, p.last_dev_step = score, p.step
        if p.step == 0:
            p.start_dev = score
        if collapsed(score):
            p.collapsed_steps.append(p.step)
            logger.warning("dev collapsed", extra={"data": {"step": p.step, "stsb_dev": score}})
        elif p.best_dev is None or score > p.best_dev:
            p.best_dev, p.best_step, p.best_epoch = score, p.step, p.epoch
            save_hf(model, tokenizer, work / "best")
        return score

    _log_start(cfg, device, model, len(data), total, per_epoch, resumed_from)
    if dev is not None and cfg.eval_at_start and resumed_from is None:
        log.write(_log_record(cfg, p, per_epoch, meter, sched, model, evaluate_dev()))
    bar = tqdm(
        total=total, initial=p.step, desc=cfg.objective, unit="step", disable=not cfg.progress
    )
    while p.step < total:
        if p.pos >= per_epoch:  # next epoch: a fresh data order (or an early stop)
            if cfg.patience is not None and p.epoch + 1 - p.best_epoch > cfg.patience:
                p.stopped_early = True
                break
            ck.next_epoch()
        meter.start()
        idx = order.rows(ck.perm, p.epoch, p.pos)
        batch, target, n = make_batch(cfg, data, idx, tokenizer, device)
        where = f"step {p.step + 1} (epoch {p.epoch}, batch {p.pos})"
        loss = _step(cfg, forward, optim, sched, batch, target, idx.to(device), queue, where)
        p.step, p.pos = p.step + 1, p.pos + 1
        meter.stop(loss, n, int(batch["input_ids"].numel()))
        bar.update(1)
        dev_score = None
        if dev is not None and (p.step % cfg.eval_every == 0 or p.step == total):
            dev_score = evaluate_dev()
        if p.step % cfg.log_every == 0 or dev_score is not None or p.step == total:
            log.write(_log_record(cfg, p, per_epoch, meter, sched, model, dev_score))
            bar.set_postfix(loss=f"{meter.window()['loss']:.4f}", dev=dev_score)
            meter.reset_window()
        if cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0 and p.step < total:
            ck.save()
        if step_callback is not None:
            step_callback(p.step)
    bar.close()
    if p.best_step is None:
        save_hf(model, tokenizer, work / "final_hf")
    extra = {"queue_masked_entries": queue.masked, "fused_adamw": bool(optim.defaults.get("fused"))}
    return _finish(cfg, model, work, out_dir, p, meter, device, resumed_from, total, extra)


def _dtype(device: torch.device) -> str:
    return "bfloat16 autocast" if device.type == "cuda" else "float32"


def _log_start(cfg, device, model, examples: int, total: int, per_epoch: int, resumed_from):
    """The ``train start`` event: what runs where, and the throughput switches."""
    log_event(
        logger,
        "train start",
        objective=cfg.objective,
        student=str(cfg.student),
        device=str(device),
        dtype=_dtype(device),
        threads=torch.get_num_threads(),
        examples=examples,
        steps=total,
        steps_per_epoch=per_epoch,
        resumed_from=resumed_from,
        params=sum(w.numel() for w in model.backbone.parameters()),
        **{
            k: getattr(cfg, k)
            for k in ("bucket_window", "pad_to_multiple_of", "fused_adamw", "torch_compile")
            if getattr(cfg, k)
        },
    )


class TrainingCollapsedError(RuntimeError):
    """Every STS-B dev scoring of a run found a collapsed model: nothing is saved."""


def collapsed(stsb_dev: float) -> bool:
    """A dev Spearman that no sentence encoder worth keeping has: undefined (constant
    similarities) or <= 0 (no better than chance; a learning rate of 1e3 lands there with a
    finite, flat loss). Such a model is never kept as "best"."""
    return not math.isfinite(stsb_dev) or stsb_dev <= 0


def _finish(cfg, model, work, out_dir, p, meter, device, resumed_from, total, extra) -> Path:
    """Assemble the sentence-transformers folder (best or final weights) and the summary."""
    if p.best_step is None and p.collapsed_steps:
        raise TrainingCollapsedError(
            f"{cfg.objective} run {out_dir}: every STS-B dev scoring found a collapsed model "
            f"(steps {p.collapsed_steps}, last Spearman {p.last_dev}); the loss learned "
            f"nothing usable (learning_rate {cfg.learning_rate} too high?); no model written"
        )
    source = work / "best" if p.best_step is not None else work / "final_hf"
    max_len = min(cfg.eval_max_length, int(model.backbone.config.max_position_embeddings))
    summary = {
        "objective": cfg.objective,
        "student": str(cfg.student),
        "saved": "best" if p.best_step is not None else "final",
        "best_step": p.best_step,
        "best_stsb_dev": p.best_dev,
        "start_stsb_dev": p.start_dev,
        "last_stsb_dev": p.last_dev,
        "last_dev_step": p.last_dev_step,
        "best_is_start": p.best_step == 0,
        "final_step": p.step,
        "total_steps": total,
        "eval_pooling": cfg.eval_pooling,
        "wall_s": round(meter.elapsed, 2),
        "sentences_per_s": round(meter.sentences / max(meter.elapsed, 1e-9), 2),
        "device": str(device),
        "dtype": _dtype(device),
        "torch_threads": torch.get_num_threads(),
        "params": sum(w.numel() for w in model.backbone.parameters()),
        "resumed_from_step": resumed_from,
        "stopped_early": p.stopped_early,
        "collapsed_steps": p.collapsed_steps,
        "final_temperature": _temperature(cfg, model),
        **extra,
        **({"compiled_graphs": compiled_graphs()} if cfg.torch_compile else {}),
        "versions": {"torch": torch.__version__},
        "config": _config_record(cfg),
    }
    with atomic_dir(out_dir) as tmp:
        save_sentence_transformer(source, tmp, cfg.eval_pooling, max_len)
        shutil.copy2(work / "train_log.jsonl", tmp / "train_log.jsonl")
        write_json_atomic(tmp / "train_summary.json", summary)
    keys = ("best_step", "best_stsb_dev", "final_step", "wall_s", "sentences_per_s", "device")
    log_event(logger, "train done", out_dir=str(out_dir), **{k: summary[k] for k in keys})
    if not cfg.keep_work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir
