"""A write that failed because the disk is full, wherever it was logged.

The periodic check (diagnostics/alerts.py) sees the free space fall; a
write can fail between two checks, or on a disk that fills and empties
quickly. Every edge logs what it catches with its exception, so a handler
on the root logger finds those caused by a full disk: ``ENOSPC`` or
``EDQUOT`` anywhere in the exception's chain, or SQLite's "database or disk
is full" (which its driver reports without an errno).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = "database or disk is full"


def caused_by_full_disk(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, says the disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if _SQLITE_FULL in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class DiskFullLogHandler(logging.Handler):
    """Calls ``on_full`` for every logged exception a full disk caused."""

    def __init__(self, on_full: Callable[[], object]) -> None:
        super().__init__(logging.WARNING)
        self._on_full = on_full

    def emit(self, record: logging.LogRecord) -> None:
        """Look at ``record``'s exception, if it has one."""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and caused_by_full_disk(exc):
            self._on_full()
