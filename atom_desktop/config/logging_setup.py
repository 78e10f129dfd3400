"""Logging: JSON lines to a rotated file, readable lines on the console.

Both handlers pass every record through a :class:`Redactor`, so a secret in
a message, its arguments or a traceback never reaches a log line.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from atom_desktop.core.redaction import Redactor

LOG_FILE_NAME = "atom-desktop.jsonl"
_MAX_BYTES = 5 * 1024 * 1024
_BACKUPS = 5
# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# Libraries that log their routine work at INFO, which is none of the user's
# concern: alembic each migration context, apscheduler each start and job
# ("Scheduler started", "Added job"), httpx and httpcore each request (a second
# launch asking the first to show its window), uvicorn its start and stop (the
# agent says where it listens and when it stops). Their warnings and errors show.
QUIET_LIBRARIES = ("alembic", "apscheduler", "httpx", "httpcore", "uvicorn")


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a redacted JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redactor.redact(record.getMessage()),
            "thread": record.threadName,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = self._redactor.redact(str(value))
        if record.exc_info:
            entry["exception"] = self._redactor.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """``12:00:01 WARNING store: message`` with secrets masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a console line with its message and traceback redacted."""
        # Redact the parts that carry data, not the logger name or level
        # (a module called ``database_key`` is no secret).
        clean = logging.makeLogRecord(vars(record))
        clean.msg, clean.args = self._redactor.redact(record.getMessage()), None
        if record.exc_info:
            clean.exc_text = self._redactor.redact(self.formatException(record.exc_info))
            clean.exc_info = None
        if record.stack_info:
            clean.stack_info = self._redactor.redact(record.stack_info)
        return super().format(clean)


class LoggingHandle:
    """The handlers :func:`configure_logging` installed; ``close`` removes them."""

    def __init__(
        self,
        root: logging.Logger,
        handlers: list[logging.Handler],
        library_levels: dict[str, int] | None = None,
    ) -> None:
        self._root = root
        self.handlers = handlers
        self._library_levels = library_levels or {}

    def close(self) -> None:
        """Detach and close the handlers (flushes the file); the libraries' levels go back."""
        for handler in self.handlers:
            self._root.removeHandler(handler)
            handler.close()
        self.handlers = []
        for name, level in self._library_levels.items():
            logging.getLogger(name).setLevel(level)
        self._library_levels = {}


def configure_logging(
    *,
    level: str,
    log_dir: Path | None,
    redactor: Redactor,
    console: TextIO | None = sys.stderr,
    logger_name: str = "",
) -> LoggingHandle:
    """Install the file and console handlers on the root (or a named) logger."""
    root = logging.getLogger(logger_name)
    root.setLevel(level)
    library_levels = {}
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        library_levels[name] = library.level
        library.setLevel(max(logging.WARNING, root.level))
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_dir / LOG_FILE_NAME, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
        )
        file_handler.setFormatter(JsonLinesFormatter(redactor))
        handlers.append(file_handler)
    if console is not None:
        console_handler = logging.StreamHandler(console)
        console_handler.setFormatter(ConsoleFormatter(redactor))
        handlers.append(console_handler)
    for handler in handlers:
        root.addHandler(handler)
    return LoggingHandle(root, handlers, library_levels)
