"""The desktop app: QApplication on the main thread, the agent on its own.

:class:`DesktopApp` wires the window, the tray and the agent host together
and owns the app's life: closing the window hides it to the tray (or asks
where there is no tray); Quit stops the agent gracefully, then Qt.

Start-up order: the window and the tray show first; the profile (settings,
directories) is loaded just after the window's first paint (or at once when
the window stays hidden), then the agent starts on its thread.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from atom_desktop.config.logging_setup import LoggingHandle, configure_logging
from atom_desktop.config.profile import Profile
from atom_desktop.core.errors import AtomError
from atom_desktop.core.statuses import RUN_FAILED
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.error_reports_dialog import install_window_errors
from atom_desktop.gui.icons import app_icon
from atom_desktop.gui.main_window import MainWindow
from atom_desktop.gui.preferences import Preferences
from atom_desktop.gui.quit_signals import quit_on_signals
from atom_desktop.gui.run_labels import run_command_text, short_command
from atom_desktop.gui.translations import install_translations
from atom_desktop.gui.tray import Tray

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from atom_desktop.core.events import Event
    from atom_desktop.gui.pages.settings import StartAtLogin
    from atom_desktop.store.runs import RunRecord
    from atom_desktop.sync.service import SyncStatus

logger = logging.getLogger(__name__)

APP_ID = "atom-desktop"


class DesktopApp(QObject):
    """The window, the tray and the agent, and what ties them together."""

    #: The profile is loaded (the agent is starting with it).
    profile_loaded = Signal(object)

    def __init__(
        self,
        config_dir: Path,
        start_at_login: StartAtLogin,
        *,
        background: bool = False,
        keyring_backend: KeyringBackend | None = None,
    ) -> None:
        super().__init__()
        self.background = background
        self.config_dir = config_dir
        self.preferences = Preferences.load(config_dir)
        self.host = AgentHost(self, keyring_backend=keyring_backend)
        self.window = MainWindow(self.host, self.preferences, start_at_login)
        self.window.setWindowIcon(app_icon())
        self.tray = Tray(self.window)
        self.quitting = False
        self._load_queued = False
        self._load: Callable[[], Profile] | None = None  # given to start()

        self.window.close_requested.connect(self.close_window)
        self.tray.open_requested.connect(self.window.bring_to_front)
        self.tray.quick_run_requested.connect(self.quick_run)
        self.tray.ask_requested.connect(self.ask)
        self.tray.pause_requested.connect(self.set_paused)
        # The pages behind these are built on first use (see MainWindow).
        self.tray.cancel_requested.connect(self._cancel_run)
        self.tray.run_automation_requested.connect(self._run_automation)
        self.tray.quit_requested.connect(self.quit)
        self.tray.notify_run.connect(self._notify_run)
        self.tray.approvals_requested.connect(self.show_approvals)
        # The tray's icon has a light-panel and a dark-panel drawing; a switch of the
        # desktop's scheme (after which apply_style has repainted the app) picks again.
        # A bound slot, so the connection ends with the tray.
        QApplication.styleHints().colorSchemeChanged.connect(self.tray.update)
        self.window.home.overview_loaded.connect(self._on_overview)
        self.window.page_built.connect(self._on_page_built)
        self.host.agent_event.connect(self._on_event)
        self.host.started.connect(self._on_started)
        self.host.failed.connect(self._on_failed)
        self.host.stopped.connect(self._on_stopped)

    def start(self, load: Callable[[], Profile]) -> None:
        """Show the window (unless in the background) and the tray; then load and start.

        ``load`` gives the profile; it runs just after the window's first
        paint (at once if the window stays hidden). An error from it is shown
        and ends the app with its exit code.
        """
        self._load = load
        self.tray.show()
        if self.tray.available():
            logger.info("Tray icon shown")
        else:
            logger.info("No system tray on this desktop (yet); closing the window will ask")
        if not self.background or not self.tray.available():
            self.window.first_painted.connect(self._load_soon)
            self.window.show()
            # A window that is never exposed (a minimised start) still starts its agent.
            QTimer.singleShot(FIRST_PAINT_WAIT_MS, self._load_soon)
        else:
            self._load_soon()

    def _load_soon(self) -> None:
        if not self._load_queued:
            self._load_queued = True
            # Queued: the paint in progress reaches the screen first.
            QTimer.singleShot(0, self._load_and_start)

    def _load_and_start(self) -> None:
        if self.quitting or self._load is None:
            return
        try:
            profile = self._load()
        except AtomError as exc:
            self._fail(exc)
            return
        except Exception as exc:  # a bug: still never a window stuck on "Starting"
            logger.exception("Loading the settings failed")
            self._fail(AtomError(f"Loading the settings failed: {type(exc).__name__}: {exc}"))
            return
        self.profile_loaded.emit(profile)
        self.host.start(profile)

    def _fail(self, error: AtomError) -> None:
        """The profile could not be loaded: say why, then leave with its exit code."""
        logger.error("%s", error)
        self.quitting = True
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "ATOM Desktop cannot start",
            str(error),
            QMessageBox.StandardButton.Ok,
            self.window if self.window.isVisible() else None,
        )
        box.setAccessibleName("Start-up error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Not exec(): the app leaves when the message is closed.
        box.finished.connect(lambda _result: self._leave(error.exit_code))
        box.open()

    def _leave(self, code: int) -> None:
        self.window.hide()
        self.tray.icon.hide()
        QApplication.exit(code)

    # -- window and tray ----------------------------------------------------------------

    def close_window(self) -> None:
        """Hide to the tray (saying so once); with no tray, ask what to do."""
        if self.tray.available():
            self.window.hide()
            logger.info("Window hidden; ATOM Desktop is still running in the tray")
            if not self.preferences.tray_hint_shown:
                self.tray.notify(
                    "ATOM Desktop is still running",
                    "It keeps working in the tray. Quit from the tray menu.",
                )
                self.preferences.tray_hint_shown = True
                self._save_preferences()
            return
        box = QMessageBox(self.window)
        box.setWindowTitle("Close ATOM Desktop")
        box.setText("There is no system tray on this desktop.")
        box.setInformativeText(
            "Quit ATOM Desktop, or keep the agent running in the background? "
            "(Launch ATOM Desktop again to bring the window back.)"
        )
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is quit_button:
            self.quit()
        elif box.clickedButton() is keep:
            self.window.hide()

    def show_approvals(self) -> None:
        """Bring the window up on the approvals inbox."""
        self.window.show_approvals()
        self.window.bring_to_front()

    def ask(self) -> None:
        """Bring the window up on the Assistant page, ready to type a request."""
        self.window.bring_to_front()
        self.window.show_assistant()

    def quick_run(self) -> None:
        """Ask for a shell line and run it, showing its output."""
        line, ok = QInputDialog.getText(None, "Quick run", "Shell command:")
        if not ok or not line.strip():
            return

        def started(record: RunRecord) -> None:
            self.window.show_run(record.id, run_command_text(record))
            self.window.bring_to_front()

        self.host.call(lambda rt: jobs.start_shell(rt, line.strip()), started, self._show_error)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume the agent's runner."""
        self.host.call(lambda rt: jobs.set_paused(rt, paused), None, self._show_error)

    def quit(self) -> None:
        """Stop the agent gracefully (runs cancelled and recorded), then leave."""
        if self.quitting:
            return
        self.quitting = True
        self.window.hide()
        self.tray.icon.hide()
        self.host.request_stop()
        # Qt quits when ``stopped`` arrives; an agent that never started sends none.
        if not self.host.thread_alive:
            QApplication.quit()

    def _cancel_run(self, run_id: str) -> None:
        self.window.console.cancel(run_id)

    def _run_automation(self, automation_id: str) -> None:
        self.window.automations.run_automation(automation_id)

    def _on_page_built(self, name: str) -> None:
        if name == "Automations":
            page = self.window.automations
            page.approvals.pending_changed.connect(self.tray.set_approvals)
            page.listed.connect(self.tray.set_automations)
        elif name == "Sync":
            # The page reads the status when it is built and after each restore or
            # dismiss; the tray follows those reads too, not only sync.status events
            # (none comes while sync is off, and a dismiss changes no sync state).
            self.window.sync_page.status_loaded.connect(self._show_sync_status)

    def _show_sync_status(self, status: SyncStatus) -> None:
        self.tray.set_sync_status(status.state, status.pending, status.conflicts, status.last_error)

    # -- agent events -----------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        # Imported with the first event, after the window has painted: the
        # module defines some twenty dataclasses, 7 ms to import.
        from atom_desktop.core.events import (  # noqa: PLC0415
            ApprovalChanged,
            NotificationRequested,
            WindowActivationRequested,
        )
        from atom_desktop.updates.status import UpdateState, UpdateStatusChanged  # noqa: PLC0415

        self.tray.on_event(event)
        payload = event.payload
        if isinstance(payload, WindowActivationRequested):
            self.window.bring_to_front()
            logger.info("Window shown at the request of another launch")
        elif isinstance(payload, ApprovalChanged) and payload.status == "pending":
            command = short_command(payload.command, 80)
            self._notify(
                f"Approval needed: {command}",
                "Approve or deny it in ATOM Desktop.",
                opens_approvals=True,
            )
        elif isinstance(payload, NotificationRequested):
            self._notify(payload.title, payload.message, failed=payload.level != "info")
        elif isinstance(payload, UpdateStatusChanged) and payload.state == UpdateState.HANDING_OVER:
            # The handover process runs (published only once it was started) and
            # waits for this process to end; the window goes with the agent.
            logger.info("Quitting for the update: %s", payload.message)
            self.quit()

    def _notify(
        self, title: str, message: str, *, failed: bool = False, opens_approvals: bool = False
    ) -> None:
        """A notification from the agent (automations), if the person wants them."""
        if self.preferences.notifications and not self.quitting:
            self.tray.notify(title, message, failed=failed, opens_approvals=opens_approvals)

    def _on_started(self) -> None:
        self.tray.agent_ready = True
        self.tray.set_error(None)

    def _on_failed(self, message: str) -> None:
        self.tray.set_error(message)
        self.window.bring_to_front()
        # Not exec(): a nested event loop inside a signal handler invites trouble.
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "ATOM Desktop could not start its agent",
            message,
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_stopped(self) -> None:
        self.tray.agent_ready = False
        if self.quitting:
            QApplication.quit()

    def _on_overview(self, view: jobs.AgentOverview) -> None:
        self.tray.paused = view.paused
        self.tray.set_runs(view.active)

    def _notify_run(self, run_id: str, status: str) -> None:
        if not self.preferences.notifications or self.quitting or status == "cancelled":
            return

        def show(record: RunRecord) -> None:
            if record.source == "automation":
                return  # the automation's own notify setting speaks for its runs
            command = short_command(run_command_text(record), 80)
            failed = status in RUN_FAILED
            verdict = "failed" if failed else "finished"
            detail = f" (exit {record.exit_code})" if record.exit_code is not None else ""
            self.tray.notify(f"Run {verdict}{detail}", command, failed=failed)

        self.host.call(lambda rt: rt.runner.async_record(run_id), show, None)

    def _save_preferences(self) -> None:
        try:
            self.preferences.save(self.config_dir)
        except OSError as exc:
            logger.warning("Could not save the window's preferences: %s", exc)

    def _show_error(self, error: AtomError) -> None:
        self.tray.notify("ATOM Desktop", str(error), failed=True)
        self.window.statusBar().showMessage(str(error), 10000)


# How long the agent thread may hold the interpreter before the Qt thread gets
# its turn. Qt releases it around most calls into C++, and each time it wants
# it back during a flood it waits out the agent thread's slice: with Python's
# default of 5 ms, one frame of painting added up to 100+ ms stalls.
SWITCH_INTERVAL_S = 0.001
#: How long the app waits for its window's first paint before loading anyway.
FIRST_PAINT_WAIT_MS = 1000


def share_the_interpreter_with_the_window() -> None:
    """Give the Qt thread the interpreter back quickly when the agent is busy."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def show_error_dialog(title: str, message: str) -> None:
    """Tell a person what went wrong when there is no window yet (a launcher click)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok)
    box.setWindowIcon(app_icon())
    box.exec()


def run_desktop(
    config_dir: Path,
    load: Callable[[], Profile],
    start_at_login: StartAtLogin,
    *,
    background: bool = False,
    early_logs: LoggingHandle | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Run the desktop app until Quit; returns the exit code.

    ``early_logs`` (console only, before the profile is known) are replaced
    by the profile's logging (console and file) once it is loaded.
    """
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    assert isinstance(app, QApplication)
    app.setApplicationName("ATOM Desktop")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    # Before any widget: its strings are translated as it is built.
    install_translations(app)
    # Closing the window hides it; only Quit ends the app.
    app.setQuitOnLastWindowClosed(False)
    share_the_interpreter_with_the_window()
    desktop = DesktopApp(config_dir, start_at_login, background=background)
    install_window_errors(desktop.window, desktop.profile_loaded)
    logs: list[LoggingHandle] = []

    def log_for(profile: Profile) -> None:
        if early_logs is not None:
            early_logs.close()
        logs.append(
            configure_logging(
                level=profile.settings.log_level,
                log_dir=profile.paths.log_dir,
                redactor=profile.redactor,
            )
        )

    desktop.profile_loaded.connect(log_for)
    # SIGTERM / SIGINT quit as the tray's Quit does: runs cancelled, agent stopped.
    with quit_on_signals(desktop.quit):
        desktop.start(load)
        try:
            code = app.exec()
        finally:
            desktop.host.stop()
            for handle in logs:
                handle.close()
    return code
