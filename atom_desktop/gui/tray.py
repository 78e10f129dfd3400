"""The system tray: state icon, menu, notifications.

Alerts (the agent's ``AlertRaised`` events: a failed automation, a stopped
service, a full disk, a locked keyring, an account to reconnect) are shown
as notifications and keep the icon in its error state, with the newest in
the tooltip and the menu, until they are seen: until the window is shown or
activated (opening it from the tray or a notification does both). An alert
that arrives while the window is in front is shown in it and so seen at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from atom_desktop.core.statuses import RUN_ACTIVE, RUN_FINISHED
from atom_desktop.gui.icons import app_icon, page_icon, status_icon, tray_icon
from atom_desktop.gui.run_labels import run_command_text, short_command
from atom_desktop.gui.style import current_theme
from atom_desktop.gui.sync_words import TROUBLE, state_words, sync_line
from atom_desktop.gui.toast import ToastBar
from atom_desktop.gui.translations import english_plural
from atom_desktop.resource_files import TrayState

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.core.events import Event
    from atom_desktop.store.runs import RunRecord


class Tray(QObject):
    """The tray icon and its menu; it asks, the main window acts."""

    open_requested = Signal()
    quick_run_requested = Signal()
    ask_requested = Signal()  # show the Assistant page, ready to type
    pause_requested = Signal(bool)  # True: pause, False: resume
    cancel_requested = Signal(str)  # run id
    quit_requested = Signal()
    notify_run = Signal(str, str)  # run id, status (a run finished or failed)
    approvals_requested = Signal()  # show the approvals inbox
    run_automation_requested = Signal(str)  # automation id
    notification_shown = Signal(str, str)  # title, message: on the desktop or in the window

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu(parent)
        self.menu.setAccessibleName(self.tr("ATOM Desktop tray menu"))
        self.open_action = QAction(app_icon(), self.tr("Open ATOM Desktop"), self.menu)
        self.quick_run_action = QAction(self.tr("Quick run…"), self.menu)
        self.ask_action = QAction(self.tr("Ask…"), self.menu)
        self.approvals_action = QAction(self.tr("Approvals (0)"), self.menu)
        self.pause_action = QAction(self.tr("Pause agent"), self.menu)
        self.sync_action = QAction(self.tr("Sync: off"), self.menu)
        self.alerts_action = QAction(self.menu)
        self.quit_action = QAction(self.tr("Quit"), self.menu)
        self.runs_menu = QMenu(self.tr("Running"), self.menu)
        self.automations_menu = QMenu(self.tr("Run automation"), self.menu)
        self._paint_menu_icons()
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.alerts_action)
        self.menu.addAction(self.quick_run_action)
        self.menu.addAction(self.ask_action)
        self.menu.addAction(self.approvals_action)
        self.menu.addMenu(self.automations_menu)
        self.menu.addSeparator()
        self.menu.addMenu(self.runs_menu)
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.sync_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)

        self.running: dict[str, str] = {}  # run id -> command
        self.approvals: dict[str, str] = {}  # pending approval id -> command
        self.automations: dict[str, str] = {}  # automation id -> name
        # What clicking the last notification opens: the approvals inbox or the window.
        self._message_opens_approvals = False
        self.paused = False
        self.error: str | None = None
        # Alerts not seen yet (title, message), oldest first.
        self.alerts: list[tuple[str, str]] = []
        self.agent_ready = False
        # Sync as its last status said (off until one says otherwise).
        self.sync_state = "off"
        self.sync_pending = 0
        self.sync_conflicts = 0
        self.sync_error: str | None = None

        self.open_action.triggered.connect(self.open_requested)
        self.quick_run_action.triggered.connect(self.quick_run_requested)
        self.ask_action.triggered.connect(self.ask_requested)
        self.pause_action.triggered.connect(lambda: self.pause_requested.emit(not self.paused))
        self.quit_action.triggered.connect(self.quit_requested)
        self.approvals_action.triggered.connect(self.approvals_requested)
        self.sync_action.triggered.connect(self.open_requested)
        self.alerts_action.triggered.connect(self.open_requested)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_message_clicked)
        if parent is not None:
            # The window shown or activated: its alerts are seen.
            parent.installEventFilter(self)
        self.update()

    @staticmethod
    def available() -> bool:
        """Whether the desktop has a system tray to put an icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        """Show the icon; where no tray exists yet, it docks when one appears."""
        # Shown even without a tray: a login item can start before the panel.
        self.icon.show()

    def state(self) -> TrayState:
        """What the icon shows now."""
        if self.error is not None or self.alerts:
            return "error"
        if self.paused:
            return "paused"
        return "running" if self.running else "idle"

    def _paint_menu_icons(self) -> None:
        # The menu's icons are the window's: the same drawings for the same things.
        dark = current_theme(self.menu).dark
        self.quick_run_action.setIcon(page_icon("console", dark=dark))
        self.ask_action.setIcon(page_icon("assistant", dark=dark))
        self.approvals_action.setIcon(status_icon("waiting_approval", dark=dark))
        self.alerts_action.setIcon(status_icon("failed", dark=dark))
        self.automations_menu.setIcon(page_icon("automations", dark=dark))
        self.runs_menu.setIcon(status_icon("running", dark=dark))
        self.sync_action.setIcon(page_icon("sync", dark=dark))

    def update(self) -> None:
        """Bring icon, tooltip and menu in line with the state."""
        state = self.state()
        self.icon.setIcon(tray_icon(state, dark=current_theme().dark))
        if self.error is not None:
            tip = self.tr("ATOM Desktop: %1").replace("%1", self.error)
        elif self.alerts:
            tip = self.tr("ATOM Desktop: %1").replace("%1", self._alert_line())
        elif not self.agent_ready:
            tip = self.tr("ATOM Desktop: starting…")
        elif self.running:
            tip = self.tr("ATOM Desktop: %n running", "", len(self.running))
        else:
            tip = self.tr("ATOM Desktop: paused") if self.paused else self.tr("ATOM Desktop: idle")
        if self.approvals:
            waiting = len(self.approvals)
            tip += english_plural(self.tr(" · %n approval(s) waiting", "", waiting), waiting)
        if self.sync_state in TROUBLE:
            tip += (
                self.tr(" · sync %1 (%2 pending)")
                .replace("%1", state_words(self.sync_state))
                .replace("%2", str(self.sync_pending))
            )
        self.icon.setToolTip(tip)
        self.sync_action.setText(sync_line(self.sync_state, self.sync_pending, self.sync_conflicts))
        self.sync_action.setToolTip(self.sync_error or "")
        self.approvals_action.setText(self.tr("Approvals (%n)", "", len(self.approvals)))
        self.approvals_action.setVisible(bool(self.approvals))
        self.alerts_action.setText(self._alert_line())
        self.alerts_action.setToolTip(self.alerts[-1][1] if self.alerts else "")
        self.alerts_action.setVisible(bool(self.alerts))
        self.pause_action.setText(
            self.tr("Resume agent") if self.paused else self.tr("Pause agent")
        )
        self.pause_action.setEnabled(self.agent_ready)
        self.quick_run_action.setEnabled(self.agent_ready)
        self.ask_action.setEnabled(self.agent_ready)
        self.automations_menu.setEnabled(bool(self.automations) and self.agent_ready)
        for action in self.runs_menu.actions():
            submenu = action.menu()
            if submenu is not None:
                submenu.deleteLater()  # clear() drops the actions, not the menus
        self.runs_menu.clear()
        self.runs_menu.setTitle(self.tr("Running (%n)", "", len(self.running)))
        self.runs_menu.setEnabled(bool(self.running))
        for run_id, command in self.running.items():
            sub = self.runs_menu.addMenu(
                status_icon("running", dark=current_theme(self.menu).dark),
                short_command(command, 40),
            )
            sub.setToolTip(command)
            cancel = sub.addAction(
                status_icon("cancelled", dark=current_theme(self.menu).dark), self.tr("Cancel")
            )
            cancel.triggered.connect(lambda _=False, r=run_id: self.cancel_requested.emit(r))

    def set_runs(self, records: list[RunRecord]) -> None:
        """Replace the list of active runs."""
        self.running = {r.id: run_command_text(r) for r in records}
        self.update()

    def set_automations(self, names: dict[str, str]) -> None:
        """Replace the automations the menu can run (id -> name)."""
        self.automations = dict(names)
        self.automations_menu.clear()
        for automation_id, name in sorted(self.automations.items(), key=lambda item: item[1]):
            action = self.automations_menu.addAction(short_command(name, 40))
            action.triggered.connect(
                lambda _=False, a=automation_id: self.run_automation_requested.emit(a)
            )
        self.automations_menu.setEnabled(bool(self.automations) and self.agent_ready)

    def set_approvals(self, pending: dict[str, str]) -> None:
        """Replace the pending approvals (id -> command)."""
        self.approvals = dict(pending)
        self.update()

    def set_sync_status(
        self, state: str, pending: int, conflicts: int = 0, last_error: str | None = None
    ) -> None:
        """Show sync's state, what waits, and open conflicts (from its status or an event)."""
        self.sync_state, self.sync_pending = state, pending
        self.sync_conflicts, self.sync_error = conflicts, last_error
        self.update()

    def set_error(self, message: str | None) -> None:
        """Show (or clear) an error state."""
        self.error = message
        self.update()

    def show_alert(self, title: str, message: str) -> None:
        """Notify, and keep the error state until the window is seen (at once if it is)."""
        if not self._window_in_front():
            self.alerts.append((title, message))
        self.notify(title, message, failed=True)
        self.update()

    def alerts_seen(self) -> None:
        """The person has the window in view: the alerts are seen."""
        if self.alerts:
            self.alerts.clear()
            self.update()

    def _alert_line(self) -> str:
        if not self.alerts:
            return ""
        more = len(self.alerts) - 1
        return self.alerts[-1][0] + (self.tr(" (+%n more)", "", more) if more else "")

    def _window_in_front(self) -> bool:
        window = self.parent()
        return isinstance(window, QWidget) and window.isVisible() and window.isActiveWindow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Alerts are seen when the window is shown or activated."""
        if watched is self.parent() and event.type() in (
            QEvent.Type.Show,
            QEvent.Type.WindowActivate,
        ):
            self.alerts_seen()
        return False

    def on_event(self, event: Event) -> None:
        """Follow runs, pauses, approvals, sync and alerts from the agent's events."""
        # Imported with the first event (after the window's first paint; see gui/app.py).
        from atom_desktop.core.events import (  # noqa: PLC0415
            AlertRaised,
            ApprovalChanged,
            RunChanged,
            RunnerPaused,
            SyncStatusChanged,
        )

        payload = event.payload
        if isinstance(payload, AlertRaised):
            self.show_alert(payload.title, payload.message)
            return
        if isinstance(payload, RunnerPaused):
            self.paused = payload.paused
        elif isinstance(payload, RunChanged):
            if payload.status in RUN_ACTIVE:
                self.running.setdefault(payload.run_id, payload.run_id[:8])
            elif payload.status in RUN_FINISHED:
                self.running.pop(payload.run_id, None)
                self.notify_run.emit(payload.run_id, payload.status)
        elif isinstance(payload, ApprovalChanged):
            if payload.status == "pending":
                self.approvals[payload.approval_id] = payload.command
            else:
                self.approvals.pop(payload.approval_id, None)
        elif isinstance(payload, SyncStatusChanged):
            self.sync_state, self.sync_pending = payload.state, payload.pending
            self.sync_conflicts, self.sync_error = payload.conflicts, payload.last_error
        else:
            return
        self.update()

    def notify(
        self, title: str, message: str, *, failed: bool = False, opens_approvals: bool = False
    ) -> None:
        """A desktop notification (through the tray, where there is one).

        Clicking it opens the window, or the approvals inbox with ``opens_approvals``.
        While the window is in front, it shows in the window's status bar
        instead, where it covers none of the window's controls.
        """
        window = self.parent()
        if isinstance(window, QWidget) and self._window_in_front():
            toasts = window.findChild(ToastBar)
            if toasts is not None:
                toasts.show_toast(title, message, failed=failed)
                self.notification_shown.emit(title, message)
                return
        if self.available() and self.icon.isVisible():
            self._message_opens_approvals = opens_approvals
            kind = (
                QSystemTrayIcon.MessageIcon.Warning
                if failed
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.icon.showMessage(title, message, kind, 5000)
            self.notification_shown.emit(title, message)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_requested.emit()

    def _on_message_clicked(self) -> None:
        if self._message_opens_approvals:
            self.approvals_requested.emit()
        else:
            self.open_requested.emit()
