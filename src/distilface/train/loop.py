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

import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from distilface.core.devices import resolve_device
from distilface.core.io import atomic_dir, write_json_atomic
from distilface.core.logs import log_event
from distilface.data.readers import load_task
from distilface.evaluate.encoders import length_sorted_batches
from distilface.plan.objectives import reads
from distilface.train import losses
from distilface.train.batches import (
    BatchOrder,
    TrainData,
    batches_per_epoch,
    compute_loss,
    load_train_data,
    make_batch,
)
from distilface.train.devset import DevSet, stsb_dev_spearman
from distilface.train.model import (
    SentenceModel,
    autocast_for,
    load_backbone,
    save_hf,
    save_sentence_transformer,
)
from distilface.train.settings import LSTSQ_ROWS, TrainConfig
from distilface.train.state import Checkpoint, JsonlLog, Meter, Progress

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# the loop


def _optimizer(cfg: TrainConfig, model: nn.Module, total: int, per_epoch: int, device):
    """AdamW (no decay on biases / LayerNorm / the logit scale) and the LR schedule.

    ``fused_adamw`` uses torch's fused kernel on CUDA; on another device it logs a notice and
    uses the default AdamW (so one config runs on a laptop and on a GPU)."""
    # lazy: transformers' optimisation module is slow to import
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
    with autocast_for(idx.device):
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
    return reads(cfg.objective, "temperature")


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

    ``dev`` overrides the STS-B dev pairs (a :class:`~distilface.core.types.StsPairs`); by default
    they
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
    board = Path(cfg.tensorboard_dir or work / "tensorboard") if cfg.tensorboard else None
    log = JsonlLog(work / "train_log.jsonl", resumed_from, board)
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
    log.close()
    if p.best_step is None:
        save_hf(model, tokenizer, work / "final_hf")
    extra = {"queue_masked_entries": queue.masked, "fused_adamw": bool(optim.defaults.get("fused"))}
    done = Finished(cfg, model, work, out_dir, device, total, resumed_from, extra)
    return _finish(done, p, meter)


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


@dataclass(frozen=True)
class Finished:
    """What :func:`_finish` needs of a run that has stopped stepping."""

    cfg: TrainConfig
    model: SentenceModel
    work: Path  # checkpoints, best / final HF folders, the log
    out_dir: Path
    device: torch.device
    total: int  # the planned optimiser steps
    resumed_from: int | None
    extra: dict  # summary fields of the loop's parts (queue, fused AdamW)


def _finish(run: Finished, p: Progress, meter: Meter) -> Path:
    """Assemble the sentence-transformers folder (best or final weights) and the summary."""
    cfg, model, work, out_dir, device = run.cfg, run.model, run.work, run.out_dir, run.device
    resumed_from, total, extra = run.resumed_from, run.total, run.extra
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
