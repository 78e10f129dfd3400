"""The one path unexpected failures take to a report: the log.

Every edge of the agent already logs what it catches and did not expect,
with its traceback: the runner's and the automations' run tasks, sync's
loop, the integrations' housekeeping, uvicorn's "Exception in ASGI
application" behind the API's 500 answer, asyncio's "Task exception was
never retrieved" and "Exception in callback". So a handler on the root
logger turns each such record into a report, and no service needs a
try/except of its own for it. A thread's uncaught exception, which Python
only prints to stderr, is logged first (``threading.excepthook``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from atom_desktop.diagnostics.reports import ErrorReports

_logger = logging.getLogger(__name__)


class ReportingHandler(logging.Handler):
    """Writes a report for every ERROR record that carries an exception."""

    def __init__(self, reports: ErrorReports) -> None:
        super().__init__(logging.ERROR)
        self._reports = reports
        # A report logs that it was written (or failed): never report that again.
        self._busy = threading.local()
        self.thread_hook: _ThreadHook | None = None

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
            where = getattr(record, "report_where", None) or (
                f"{record.name}:{record.funcName} ({record.threadName})"
            )
            # Rare, and small: written on the thread that logged it, even the
            # agent's loop, so the report exists before anything else can fail.
            self._reports.record(where, exc, record.getMessage())
        finally:
            self._busy.active = False


class _ThreadHook:
    """``threading.excepthook`` that logs (so reports), then does what was there before."""

    def __init__(self, previous: Callable[[threading.ExceptHookArgs], object]) -> None:
        self.previous = previous

    def __call__(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
            name = args.thread.name if args.thread is not None else "?"
            _logger.error(
                "Unexpected error in thread %s",
                name,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
                extra={"report_where": f"thread {name}"},
            )
        # Then as before: Python prints it, and a test runner still sees it.
        self.previous(args)


def attach(reports: ErrorReports, logger: logging.Logger | None = None) -> ReportingHandler:
    """Add a :class:`ReportingHandler` to ``logger`` (the root logger) and log threads'
    uncaught exceptions; undo both with :func:`detach`."""
    handler = ReportingHandler(reports)
    (logger or logging.getLogger()).addHandler(handler)
    if logger is None:
        handler.thread_hook = _ThreadHook(threading.excepthook)
        threading.excepthook = handler.thread_hook
    return handler


def detach(handler: ReportingHandler, logger: logging.Logger | None = None) -> None:
    """Remove a handler :func:`attach` added (and its thread hook, if still in place)."""
    (logger or logging.getLogger()).removeHandler(handler)
    hook, handler.thread_hook = handler.thread_hook, None
    if hook is not None and threading.excepthook is hook:
        threading.excepthook = hook.previous
    handler.close()
