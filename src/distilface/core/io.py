"""Atomic writes: every output of the package is written to a temporary name in its own folder,
then renamed, so a reader (or a resumed Snakemake job) never sees half a file.

One permission policy: new files and folders get the process umask's default permissions
(0644 / 0755 under umask 022), as ``open()`` and ``mkdir()`` give them. ``tempfile.mkstemp``
is not used for outputs: it creates 0600 files, unreadable to other users of a shared cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def temp_sibling(path: str | Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden name next to ``path`` (same folder, so the final rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def replace(src: str | Path, final: str | Path) -> None:
    """Rename ``src`` over ``final`` (a file, or a folder that may already exist)."""
    final = Path(final)
    if final.is_dir() and not final.is_symlink():
        old = temp_sibling(final, ".old")
        os.replace(final, old)
        os.replace(src, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, final)


def write_bytes_atomic(path: str | Path, data: bytes, *, executable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; return the path.
    ``executable``: 0777 minus the umask (a script) instead of 0666 minus the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    mode = 0o777 if executable else 0o666  # minus the umask, unlike mkstemp's 0600
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str, *, executable: bool = False) -> Path:
    """:func:`write_bytes_atomic` of UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"), executable=executable)


def json_safe(value: Any) -> Any:
    """NaN / inf -> ``None`` (strict JSON), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json_atomic(path: str | Path, obj: Any, *, sort_keys: bool = False) -> Path:
    """Indented strict JSON (non-finite floats become ``null``; other objects ``str()``)."""
    text = json.dumps(json_safe(obj), indent=2, sort_keys=sort_keys, default=str, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def write_with_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary name next to ``path`` (keeping its suffix, for writers
    that infer a format from it), then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path, suffix=f".tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``final``; on success it replaces ``final``,
    on an error it is removed and ``final`` is untouched."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(final, ".partial")
    tmp.mkdir()
    try:
        yield tmp
        follow_umask(tmp)
        replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def require_writable_dir(folder: str | Path, what: str) -> Path:
    """Create ``folder`` if needed and prove it writable by creating and removing a file in
    it, so a read-only output or cache folder fails before the work that would fill it, not
    after. The error names ``what`` and the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temp_sibling(folder / ".write-probe")
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            f"{what} {folder} is not writable ({err.strerror or err}); nothing was computed"
        ) from err
    return folder


def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def follow_umask(root: str | Path) -> None:
    """Give every file under ``root`` the umask's default mode (0666 minus the umask, 0777 for
    an executable), as ``open()`` would: library writers that use ``mkstemp`` (e.g.
    ``safetensors.save_file``) leave 0600 files, which a shared results tree cannot share."""
    mask = current_umask()
    for path in [Path(root), *Path(root).rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, 0o777 & ~mask)
        elif path.is_file():
            executable = path.stat().st_mode & 0o100
            os.chmod(path, (0o777 if executable else 0o666) & ~mask)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
