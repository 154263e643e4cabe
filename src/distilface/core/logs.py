"""JSON-lines logging shared by every workflow step and command."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any ``extra={"data": ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data = getattr(record, "data", None)
        if isinstance(data, dict):
            obj.update(data)
        if record.exc_info:
            obj["exception"] = self.formatException(record.exc_info)
        return json.dumps(obj, default=str)


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> None:
    """Send the ``distilface`` loggers to stderr and, if given, to ``log_path`` as JSON lines."""
    root = logging.getLogger("distilface")
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(JsonLinesFormatter())
        root.addHandler(handler)


def log_event(logger: logging.Logger, message: str, **data: Any) -> None:
    """Log ``message`` with structured fields that land as JSON keys."""
    logger.info(message, extra={"data": data})


def error_record(exc: BaseException) -> dict[str, Any]:
    """An exception as JSON-able fields: type, message, full traceback."""
    return {
        "error_type": type(exc).__name__,
        "error": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


@contextlib.contextmanager
def job_log(log_path: str | Path, **context: Any) -> Iterator[logging.Logger]:
    """The body of a rule script: JSON-lines log at ``log_path``, plain progress lines, and any
    exception escaping the block written to the log as one ``"job failed"`` line (type,
    message, traceback, ``context``) before it propagates, so the job exits non-zero with its
    error in its own log (the file Snakemake and SLURM point the user to)."""
    setup_logging(log_path)
    plain_progress()
    logger = logging.getLogger("distilface.job")
    log_event(logger, "job started", **context)
    try:
        yield logger
    except BaseException as exc:
        logger.error("job failed", extra={"data": {**context, **error_record(exc)}})
        raise
    log_event(logger, "job finished", **context)


class _PlainLines(io.TextIOBase):
    """A stream for tqdm without a terminal: each redraw becomes one plain line (no ``\\r``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


#: Seconds between two progress lines when stderr is not a terminal.
PLAIN_PROGRESS_INTERVAL_S = 60.0


_PLAIN: dict[str, Any] = {}  # the stream and interval the patched tqdm uses (latest call)


def plain_progress(interval_s: float = PLAIN_PROGRESS_INTERVAL_S, stream: Any = None) -> bool:
    """Without a TTY on stderr (a Snakemake job, a SLURM ``slurm-*.out``), make every tqdm bar
    print one plain line at most every ``interval_s`` seconds instead of carriage-return
    redraws. Returns True when plain lines are on (a later call changes stream / interval)."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        return False
    _PLAIN.update(stream=stream, interval_s=interval_s)
    # lazy: only a job without a terminal patches tqdm
    import tqdm.std

    original = tqdm.std.tqdm.__init__
    if getattr(original, "_plain_progress", False):
        return True

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("mininterval", _PLAIN["interval_s"])
        kwargs.setdefault("file", _PlainLines(_PLAIN["stream"]))
        kwargs.setdefault("ncols", 100)
        kwargs["dynamic_ncols"] = False
        original(self, *args, **kwargs)

    __init__._plain_progress = True  # type: ignore[attr-defined]
    tqdm.std.tqdm.__init__ = __init__  # type: ignore[method-assign]
    return True
