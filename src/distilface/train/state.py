"""The loop's state: the JSON-lines log, progress, throughput and the checkpoint (written
atomically, loaded with ``weights_only=True``, refused when it belongs to another run)."""

from __future__ import annotations

import json
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from distilface.core.io import write_text_atomic, write_with_atomic
from distilface.train.settings import TrainConfig


class JsonlLog:
    """Append-only JSON-lines training log that can be cut back to a resumed step; with a
    ``tensorboard`` folder, every record also goes to TensorBoard (live curves)."""

    def __init__(self, path: Path, resume_step: int | None, tensorboard: Path | None = None):
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
        self.board = _summary_writer(tensorboard, resume_step) if tensorboard else None

    def write(self, record: dict) -> None:
        """Append ``record``; with TensorBoard on, its numbers also go to the event file
        (tag ``train/<key>``, at ``record["step"]``), flushed so a running TensorBoard shows
        them at once."""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for key, value in record.items():
                if (
                    key != "step"
                    and isinstance(value, (int, float))
                    and not isinstance(value, bool)
                ):
                    self.board.add_scalar(f"train/{key}", value, record["step"])
            self.board.flush()

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def _summary_writer(folder: Path, resume_step: int | None):
    """TensorBoard's ``SummaryWriter`` on ``folder``; a resumed run purges the events after
    its checkpoint (``purge_step``), as the JSON-lines log is cut back."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # lazy: only when switched on
    except ImportError as err:  # the tensorboard package is in the lock; a bare env may lack it
        raise RuntimeError(
            "training tensorboard: true needs the tensorboard package (pip install tensorboard)"
        ) from err
    purge = None if resume_step is None else resume_step + 1
    return SummaryWriter(log_dir=str(folder), purge_step=purge)


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
