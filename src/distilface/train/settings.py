"""One training run's settings (:class:`TrainConfig`) and their checks."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from distilface.core.names import TRAIN_OBJECTIVES, TRAIN_POOLINGS, TRAIN_TO_EVAL_POOLING
from distilface.plan.objectives import OBJECTIVES, objectives_reading

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
    tensorboard: bool = False  # also log every record to TensorBoard, live
    tensorboard_dir: str | Path | None = None  # its folder; default <work_dir>/tensorboard
    extra: dict = field(default_factory=dict)  # recorded in the summary (e.g. grid run id)

    def __post_init__(self) -> None:
        if self.objective not in TRAIN_OBJECTIVES:
            raise ValueError(f"objective {self.objective!r}: choose one of {TRAIN_OBJECTIVES}")
        if self.pooling not in TRAIN_POOLINGS:
            raise ValueError(f"pooling {self.pooling!r}: choose one of {TRAIN_POOLINGS}")
        row = OBJECTIVES[self.objective]
        if row.teacher and self.teacher_cache is None:
            raise ValueError(f"objective {self.objective} needs teacher_cache")
        if self.data is None:
            raise ValueError("data (corpus or NLI file) is required")
        if self.projection_init != "random" and not row.teacher:
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
        for name in ("learn_temperature", "queue_size", "mse_weight"):
            if getattr(self, name) and name not in row.reads:
                readers = ", ".join(objectives_reading(name))
                raise ValueError(f"{name} is read by {readers} only, not {self.objective}")
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
