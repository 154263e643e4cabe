"""Fail fast when a job asked for a GPU and cannot see one (instead of a silent CPU run).

A rule that declares ``resources: gpu >= 1`` (``training.resources.gpu``,
``resources.eval_gpu``) or a setting ``device: cuda`` means "this must run on a GPU"; a job
that then finds no CUDA device (a CPU torch build in the env, a node without a card, a
missing ``--gpus``) raises :class:`GpuUnavailableError` before loading anything. On a CPU-only
machine set the resource to 0 and the device to ``auto`` or ``cpu``.
"""

from __future__ import annotations

import re
from collections.abc import Callable


class GpuUnavailableError(RuntimeError):
    """A job requested a GPU and CUDA is not available."""


def _cuda_state() -> tuple[bool, str]:
    """(CUDA available, torch build description)."""
    # lazy: the core stays importable without torch
    import torch

    cuda = getattr(torch.version, "cuda", None)
    build = f"torch {torch.__version__} ({'CUDA ' + cuda if cuda else 'CPU-only build'})"
    return bool(torch.cuda.is_available()), build


def require_gpu_if_requested(
    what: str,
    gpus: int | float | None = 0,
    device: str | None = None,
    cuda_state: Callable[[], tuple[bool, str]] = _cuda_state,
) -> bool:
    """Raise :class:`GpuUnavailableError` when ``gpus >= 1`` or ``device`` is ``cuda[:n]``
    but CUDA is not available; returns whether a GPU was requested. ``what`` names the job."""
    wants_cuda = str(device or "").startswith("cuda")
    requested = bool(gpus and gpus >= 1) or wants_cuda
    if not requested:
        return False
    available, build = cuda_state()
    if available:
        return True
    reason = f"resources gpu={gpus}" if gpus and gpus >= 1 else f"device={device!r}"
    raise GpuUnavailableError(
        f"{what}: requested a GPU ({reason}) but CUDA is not available here ({build}). "
        "Refusing to run on the CPU instead. On a GPU node, use the CUDA env (envs/train.yaml "
        "and envs/evaluate.yaml are the CUDA build) and request the card (SLURM --gpus); on a "
        "CPU-only machine set training.resources.gpu: 0 / resources.eval_gpu: 0 and device: "
        "auto (README, Environments)"
    )


def resolve_device(name: str | None = "auto") -> str:
    """The one device resolver: ``auto`` (or ``None``) -> ``cuda`` when CUDA is available, else
    ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` pass through, ``cuda`` without a card is a
    :class:`GpuUnavailableError`; anything else is a ``ValueError``."""
    import torch  # here, not at the top: the core stays importable without torch

    name = "auto" if name is None else str(name)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and not re.fullmatch(r"cuda(:\d+)?", name):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        _, build = _cuda_state()
        raise GpuUnavailableError(f"device {name!r} requested but CUDA is not available ({build})")
    return name
