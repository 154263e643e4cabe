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
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn
from tqdm.auto import tqdm

from distilface.core.devices import resolve_device
from distilface.core.logs import log_event
from distilface.core.names import TRAIN_OBJECTIVES, TRAIN_POOLINGS, TRAIN_TO_EVAL_POOLING
from distilface.evaluate.pooling import pool
from distilface.train import losses

logger = logging.getLogger(__name__)

ST_POOLING_MODE = {"cls_before_pooler": "cls", "avg": "mean"}


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
    patience: int | None = None  # stop after this many epochs without a new best dev score
    eval_at_start: bool = False  # score the untouched model at step 0 (a candidate best)
    pad_to_max_length: bool = False  # pad every batch to max_seq_length (static shapes)
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
        for name in ("batch_size", "epochs", "max_seq_length", "eval_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (in-batch negatives)")
        choices = {"warmup_of": ("total", "epoch"), "scheduler": ("linear", "cosine")}
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

    from distilface.data.models import load_pretrained, resolve_model, transformer_dir

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
    from distilface.data import readers as data

    if cfg.objective == "simcse_sup":
        examples: list = data.read_nli(cfg.data)
    else:
        examples = data.read_corpus(cfg.data)
    teacher = None
    examples = examples[: cfg.corpus_limit]
    if cfg.objective.startswith("disco"):
        from distilface.train.teacher_cache import load_teacher_cache

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


@torch.no_grad()
def embed(
    model: SentenceModel,
    tokenizer,
    sentences: Sequence[str],
    batch_size: int,
    max_length: int,
    device: torch.device,
) -> np.ndarray:
    """Evaluation embeddings (no dropout, no MLP head), float32, in input order."""
    was_training = model.training
    model.eval()
    out = []
    autocast = _autocast(device)
    for start in range(0, len(sentences), batch_size):
        enc = tokenizer(
            list(sentences[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        with autocast:
            z = model({k: v.to(device) for k, v in enc.items()}, head=False)
        out.append(z.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out)


def stsb_dev_spearman(model, tokenizer, dev, cfg: TrainConfig, device: torch.device) -> float:
    """STS-B dev Spearman x 100 of cosine similarity (SimCSE's ``stsb_spearman``)."""
    e1 = embed(model, tokenizer, dev.sent1, cfg.eval_batch_size, cfg.eval_max_length, device)
    e2 = embed(model, tokenizer, dev.sent2, cfg.eval_batch_size, cfg.eval_max_length, device)
    norms = np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1)
    cos = (e1 * e2).sum(1) / np.maximum(norms, 1e-8)
    return float(spearmanr(cos, dev.gold).statistic * 100.0)


# ---------------------------------------------------------------------------------------------
# files


def _autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing (float32) elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _default_mode(mode: int) -> int:
    """``mode`` minus the process umask (mkstemp/mkdtemp create 0600/0700 entries)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def _replace_dir(build: Callable[[Path], None], dest: Path) -> None:
    """Build a folder in a sibling temp dir, then rename it onto ``dest`` (replacing it)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        build(tmp)
        os.chmod(tmp, _default_mode(0o777))
        old = None
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old.{os.getpid()}")
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_torch_atomic(obj: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_sentence_transformer(hf_dir: Path, out_dir: Path, eval_pooling: str, max_len: int) -> None:
    """Wrap a HF folder as a sentence-transformers folder whose pooling equals ``eval_pooling``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    tr = Transformer(str(hf_dir), max_seq_length=max_len)
    pl = Pooling(tr.get_embedding_dimension(), pooling_mode=ST_POOLING_MODE[eval_pooling])
    SentenceTransformer(modules=[tr, pl], device="cpu").save(str(out_dir))


class JsonlLog:
    """Append-only JSON-lines training log that can be cut back to a resumed step."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        if resume_step is None:
            path.write_text("")
        elif path.exists():
            kept = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


# ---------------------------------------------------------------------------------------------
# the loop


def _rng_state(gen_epoch_start: torch.Tensor) -> dict:
    state = {"torch": torch.get_rng_state(), "data_epoch_start": gen_epoch_start}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


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


def _optimizer(cfg: TrainConfig, model: nn.Module, total: int, per_epoch: int):
    """AdamW (no decay on biases / LayerNorm / the logit scale) and the LR schedule."""
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    optim = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.learning_rate,
        betas=(0.9, cfg.adam_beta2),
        eps=1e-8,
    )
    warmup = math.ceil(cfg.warmup_ratio * (per_epoch if cfg.warmup_of == "epoch" else total))
    schedule = (
        get_cosine_schedule_with_warmup
        if cfg.scheduler == "cosine"
        else get_linear_schedule_with_warmup
    )
    return optim, schedule(optim, warmup, total)


def _new_state() -> dict:
    """The loop's counters: position, best dev score, timing and the logging window."""
    return {
        "step": 0,
        "epoch": 0,
        "pos": 0,
        "best_dev": None,
        "best_step": None,
        "best_epoch": 0,
        "stopped_early": False,
        "elapsed": 0.0,
        "win_loss": 0.0,
        "win_steps": 0,
        "win_sents": 0,
        "win_time": 0.0,
        "sents": 0,
    }


def _count_step(st: dict, loss: float, sentences: int, seconds: float) -> None:
    """Advance the counters by one optimiser step (and its logging window)."""
    st["step"] += 1
    st["pos"] += 1
    st["elapsed"] += seconds
    st["win_time"] += seconds
    st["win_loss"] += loss
    st["win_steps"] += 1
    st["win_sents"] += sentences
    st["sents"] += sentences


def _log_record(step: int, per_epoch: int, st: dict, sched, model, dev_score) -> dict:
    """One ``train_log.jsonl`` line: the logging window's mean loss and speed (None at step 0)."""
    steps = st["win_steps"]
    return {
        "step": step,
        "epoch": round(step / per_epoch, 4),
        "loss": st["win_loss"] / steps if steps else None,
        "lr": sched.get_last_lr()[0],
        "stsb_dev": dev_score,
        "temperature": float(model.logit_scale().detach()),
        "sentences_per_s": round(st["win_sents"] / max(st["win_time"], 1e-9), 2) if steps else None,
        "elapsed_s": round(st["elapsed"], 3),
    }


def _save_checkpoint(
    path: Path, cfg: TrainConfig, parts: dict, st: dict, gen_epoch_start: torch.Tensor
) -> None:
    """Everything a resumed run needs to end bit-identical, written atomically."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(state=dict(st), rng=_rng_state(gen_epoch_start), config=asdict(cfg))
    _save_torch_atomic(state, path)


def _restore(path: Path, cfg: TrainConfig, parts: dict):
    """Load a checkpoint of the same run into the live ``parts`` (what :func:`_save_checkpoint`
    saved); returns (loop state, data RNG state at the epoch's start)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    _check_same_run(ck["config"], cfg, path)
    for name, part in parts.items():
        part.load_state_dict(ck[name])
    torch.set_rng_state(ck["rng"]["torch"])
    if "cuda" in ck["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    return ck["state"], ck["rng"]["data_epoch_start"]


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
    weights are what is saved either way.
    """
    out_dir = Path(cfg.out_dir)
    work = Path(cfg.work_dir) if cfg.work_dir else out_dir.with_name(out_dir.name + ".partial")
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "checkpoint" / "state.pt"
    device = torch.device(resolve_device(cfg.device))
    if dev is None and cfg.senteval_root is not None:
        from distilface.data.readers import load_task

        dev = load_task("STSBenchmark", cfg.senteval_root, split="dev")

    torch.manual_seed(cfg.seed)
    data = load_train_data(cfg)
    backbone, tokenizer = load_backbone(str(cfg.student), cfg.dropout)
    teacher_dim = int(data.teacher.shape[1]) if data.teacher is not None else None
    model = SentenceModel(
        backbone, cfg.pooling, teacher_dim, cfg.temperature, cfg.learn_temperature
    ).to(device)
    model.train()
    queue = losses.TeacherQueue(cfg.queue_size, device)

    per_epoch = batches_per_epoch(len(data), cfg.batch_size)
    total = cfg.max_steps if cfg.max_steps else cfg.epochs * per_epoch
    optim, sched = _optimizer(cfg, model, total, per_epoch)
    parts = {"model": model, "optimizer": optim, "scheduler": sched, "queue": queue}
    gen = torch.Generator().manual_seed(cfg.seed)

    st, gen_epoch_start, resumed_from = _new_state(), gen.get_state(), None
    if ckpt_path.is_file():
        st, gen_epoch_start = _restore(ckpt_path, cfg, parts)
        resumed_from = st["step"]
    log = JsonlLog(work / "train_log.jsonl", resumed_from)
    gen.set_state(gen_epoch_start)
    perm = torch.randperm(len(data), generator=gen)

    def save_hf(dest: Path) -> None:
        def _build(tmp: Path) -> None:
            model.backbone.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)

        _replace_dir(_build, dest)

    def evaluate_dev(step: int) -> float:
        """STS-B dev now; keeps the best weights in ``work/best``."""
        score = stsb_dev_spearman(model, tokenizer, dev, cfg, device)
        if st["best_dev"] is None or score > st["best_dev"]:
            st["best_dev"], st["best_step"], st["best_epoch"] = score, step, st["epoch"]
            save_hf(work / "best")
        return score

    dtype = "bfloat16 autocast" if device.type == "cuda" else "float32"
    log_event(
        logger,
        "train start",
        objective=cfg.objective,
        student=str(cfg.student),
        device=str(device),
        dtype=dtype,
        threads=torch.get_num_threads(),
        examples=len(data),
        steps=total,
        steps_per_epoch=per_epoch,
        resumed_from=resumed_from,
        params=sum(p.numel() for p in backbone.parameters()),
    )
    if dev is not None and cfg.eval_at_start and resumed_from is None:
        log.write(_log_record(0, per_epoch, st, sched, model, evaluate_dev(0)))

    bar = tqdm(
        total=total, initial=st["step"], desc=cfg.objective, unit="step", disable=not cfg.progress
    )
    t_last = time.perf_counter()
    while st["step"] < total:
        if st["pos"] >= per_epoch:  # next epoch: a fresh data order (or an early stop)
            if cfg.patience is not None and st["epoch"] + 1 - st["best_epoch"] > cfg.patience:
                st["stopped_early"] = True
                break
            st["epoch"] += 1
            st["pos"] = 0
            gen_epoch_start = gen.get_state()
            perm = torch.randperm(len(data), generator=gen)
        idx = perm[st["pos"] * cfg.batch_size : (st["pos"] + 1) * cfg.batch_size]
        batch, target, n = make_batch(cfg, data, idx, tokenizer, device)
        with _autocast(device):
            loss = compute_loss(cfg, model, batch, target, idx.to(device), queue)
        loss_value = float(loss.item())
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"non-finite loss {loss_value} at step {st['step'] + 1} "
                f"(epoch {st['epoch']}, batch {st['pos']}); no model written"
            )
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optim.step()
        sched.step()
        now = time.perf_counter()
        _count_step(st, loss_value, n, now - t_last)
        step, t_last = st["step"], now
        bar.update(1)

        dev_score = None
        if dev is not None and (step % cfg.eval_every == 0 or step == total):
            dev_score = evaluate_dev(step)
            t_last = time.perf_counter()  # evaluation time is not training time
        if step % cfg.log_every == 0 or dev_score is not None or step == total:
            record = _log_record(step, per_epoch, st, sched, model, dev_score)
            log.write(record)
            bar.set_postfix(loss=f"{record['loss']:.4f}", dev=dev_score)
            st.update(win_loss=0.0, win_steps=0, win_sents=0, win_time=0.0)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total:
            _save_checkpoint(ckpt_path, cfg, parts, st, gen_epoch_start)
            t_last = time.perf_counter()
        if step_callback is not None:
            step_callback(step)
    bar.close()
    if st["best_step"] is None:
        save_hf(work / "final_hf")
    extra = {
        "stopped_early": st["stopped_early"],
        "final_temperature": float(model.logit_scale().detach()),
        "queue_masked_entries": queue.masked,
    }
    return _finish(cfg, model, work, out_dir, st, device, dtype, resumed_from, total, extra)


def _finish(cfg, model, work, out_dir, st, device, dtype, resumed_from, total, extra) -> Path:
    """Assemble the sentence-transformers folder (best or final weights) and the summary."""
    source = work / "best" if st["best_step"] is not None else work / "final_hf"
    max_len = min(cfg.eval_max_length, int(model.backbone.config.max_position_embeddings))
    summary = {
        "objective": cfg.objective,
        "student": str(cfg.student),
        "saved": "best" if st["best_step"] is not None else "final",
        "best_step": st["best_step"],
        "best_stsb_dev": st["best_dev"],
        "final_step": st["step"],
        "total_steps": total,
        "eval_pooling": cfg.eval_pooling,
        "wall_s": round(st["elapsed"], 2),
        "sentences_per_s": round(st["sents"] / max(st["elapsed"], 1e-9), 2),
        "device": str(device),
        "dtype": dtype,
        "torch_threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in model.backbone.parameters()),
        "resumed_from_step": resumed_from,
        **extra,
        "versions": {"torch": torch.__version__},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
    }

    def _build(tmp: Path) -> None:
        save_sentence_transformer(source, tmp, cfg.eval_pooling, max_len)
        shutil.copy2(work / "train_log.jsonl", tmp / "train_log.jsonl")
        (tmp / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")

    _replace_dir(_build, out_dir)
    log_event(
        logger,
        "train done",
        out_dir=str(out_dir),
        **{
            k: summary[k]
            for k in (
                "best_step",
                "best_stsb_dev",
                "final_step",
                "wall_s",
                "sentences_per_s",
                "device",
            )
        },
    )
    if not cfg.keep_work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir
