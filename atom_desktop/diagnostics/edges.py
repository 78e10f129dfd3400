"""The one path unexpected failures take to a report: the log.

Every edge of the agent already logs what it catches and did not expect,
with its traceback: the runner's and the automations' run tasks, sync's
loop, the integrations' housekeeping, uvicorn's "Exception in ASGI
application" behind the API's 500 answer, asyncio's "Task exception was
never retrieved" and "Exception in callback". So a handler on the root
logger turns each such record into a report, and no service needs a
try/except of its own for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from atom_desktop.diagnostics.reports import ErrorReports


class ReportingHandler(logging.Handler):
    """Writes a report for every ERROR record that carries an exception."""

    def __init__(self, reports: ErrorReports) -> None:
        super().__init__(logging.ERROR)
        self._reports = reports
        # A report logs that it was written (or failed): never report that again.
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        """Report ``record``'s exception unless it is a stop, not a failure."""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or isinstance(
            exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError | GeneratorExit
        ):
            return
        if getattr(self._busy, "active", False):
            return
        self._busy.active = True
        try:
            where = f"{record.name}:{record.funcName} ({record.threadName})"
            # Rare, and small: written on the thread that logged it, even the
            # agent's loop, so the report exists before anything else can fail.
            self._reports.record(where, exc, record.getMessage())
        finally:
            self._busy.active = False


def attach(reports: ErrorReports, logger: logging.Logger | None = None) -> ReportingHandler:
    """Add a :class:`ReportingHandler` to ``logger`` (the root logger); remove it with
    :func:`detach`."""
    handler = ReportingHandler(reports)
    (logger or logging.getLogger()).addHandler(handler)
    return handler


def detach(handler: ReportingHandler, logger: logging.Logger | None = None) -> None:
    """Remove a handler :func:`attach` added."""
    (logger or logging.getLogger()).removeHandler(handler)
    handler.close()
