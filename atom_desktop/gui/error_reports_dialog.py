"""The window's edge for failures nobody expected: a report, and "something went wrong" once.

An exception that escapes a Qt slot (or anything else on the window's
thread) reaches ``sys.excepthook``, where PySide6 would print it and go on.
Here it is written as an error report (diagnostics/reports.py: redacted,
capped, kept in the data folder and nowhere else), logged, and the first
one of the session is shown with Open report and Copy. Later ones are
reported and logged without another dialog: a failure that repeats must
not bury the window under message boxes.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from atom_desktop.config.logging_setup import LOG_FILE_NAME
from atom_desktop.config.profile import Profile

logger = logging.getLogger(__name__)

# Types only: the reports module loads once the profile is known, after the
# window's first paint.
if TYPE_CHECKING:
    from atom_desktop.diagnostics.reports import ErrorReports

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


class WindowErrors(QObject):
    """Turns the window's unexpected exceptions into reports; shows the first one."""

    #: A report was written (its path); queued to the window's thread.
    reported = Signal(str)

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self._reports: ErrorReports | None = None
        self._previous: ExceptHook | None = None
        self.dialog: QMessageBox | None = None
        self.shown = False
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def use_profile(self, profile: Profile) -> None:
        """Write reports into ``profile``'s data folder (before it is known, only logged)."""
        from atom_desktop.diagnostics.reports import (  # noqa: PLC0415
            REPORTS_DIR_NAME,
            ErrorReports,
        )

        paths = profile.paths
        self._reports = ErrorReports(
            paths.data_dir / REPORTS_DIR_NAME,
            profile.redactor,
            log_file=paths.log_dir / LOG_FILE_NAME,
        )

    def install(self) -> None:
        """Take over ``sys.excepthook`` until :meth:`uninstall`."""
        self._previous = sys.excepthook
        sys.excepthook = self.excepthook

    def uninstall(self) -> None:
        """Give ``sys.excepthook`` back."""
        if self._previous is not None and sys.excepthook == self.excepthook:
            sys.excepthook = self._previous
        self._previous = None

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        """Report, log, and (once) tell the person; never raises."""
        if isinstance(exc, KeyboardInterrupt) and self._previous is not None:
            self._previous(kind, exc, tb)
            return
        exc = exc.with_traceback(tb)
        path = None
        if self._reports is not None:
            where = f"window: {_innermost(tb)} ({threading.current_thread().name})"
            path = self._reports.record(where, exc, "Unexpected error in the window")
        # After the report: the agent's reporting handler finds it reported already.
        logger.error("Unexpected error in the window", exc_info=(kind, exc, tb))
        if path is not None:
            self.reported.emit(str(path))

    def _show(self, path: str) -> None:
        if self.shown:
            return
        self.shown = True
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            self.tr("Something went wrong"),
            self.tr(
                "Something went wrong inside ATOM Desktop. It keeps running, but what you "
                "were doing may not have finished.\n\nA report was saved on this computer "
                "(nothing was sent anywhere):\n{path}"
            ).format(path=path),
            QMessageBox.StandardButton.Close,
            self._parent if self._parent.isVisible() else None,
        )
        box.setAccessibleName("Error report")
        open_button = box.addButton(self.tr("Open report"), QMessageBox.ButtonRole.ActionRole)
        copy_button = box.addButton(self.tr("Copy"), QMessageBox.ButtonRole.ActionRole)
        open_button.clicked.connect(lambda: open_report(path))
        copy_button.clicked.connect(lambda: copy_report(path))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._closed)
        self.dialog = box
        box.open()  # not exec(): no nested event loop from inside a failure

    def _closed(self) -> None:
        self.dialog = None


def open_report(path: str) -> None:
    """Show the report in the system's viewer for JSON (or text)."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def copy_report(path: str) -> None:
    """Put the report's text on the clipboard, for the person to paste where they choose."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        text = f"The report {path} could not be read: {exc.strerror}"
    QGuiApplication.clipboard().setText(text)


def _innermost(tb: TracebackType | None) -> str:
    """The function the exception came out of, for the report's "where"."""
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_qualname if tb is not None else "?"


def install_window_errors(window: QWidget, profile_loaded: SignalInstance) -> WindowErrors:
    """Report the window's unexpected errors from now until the application quits."""
    errors = WindowErrors(window)
    errors.install()
    profile_loaded.connect(errors.use_profile)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(errors.uninstall)
    return errors
