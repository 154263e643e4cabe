"""Atomic writes: a temp name in the same folder, then rename (never a half-written output)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

# mkstemp creates 0600 files; outputs are ordinary readable files.
FILE_MODE = 0o644


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temp file + rename; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_savefig(fig, path: str | Path) -> Path:
    """``fig.savefig`` to a temp name, then rename; the format comes from ``path``'s suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".{fmt}")
    os.close(fd)
    try:
        # no creation date in a PDF: re-rendering the same results gives the same bytes
        metadata = {"CreationDate": None} if fmt == "pdf" else None
        fig.savefig(tmp, format=fmt, dpi=200 if fmt == "png" else None, metadata=metadata)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; an error names the file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: cannot read YAML ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a mapping")
    return data
