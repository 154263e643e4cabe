"""JSON-lines logging shared by every workflow step and command."""

from __future__ import annotations

import json
import logging
import sys
import time
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
