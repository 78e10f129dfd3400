"""Home: how the agent is, a quick command box, running and recent runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.run_list import RunList

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.runs import RunRecord

REFRESH_DELAY_MS = 150


class HomePage(QWidget):
    """The first page: agent status and a box to run a command now."""

    run_started = Signal(str, str)  # run id, what was run
    open_run = Signal(str, str)  # run id, what was run
    overview_loaded = Signal(object)  # jobs.AgentOverview

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.state_label = QLabel("Starting the agent…")
        self.api_label = QLabel("—")
        self.api_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label = QLabel("—")
        self.key_warning = QLabel()
        self.key_warning.setWordWrap(True)
        self.key_warning.setObjectName("warning")
        self.key_warning.setStyleSheet(
            "QLabel#warning { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a;"
            " border-radius: 4px; padding: 6px; }"
        )
        self.key_warning.hide()
        self.tasks_label = QLabel("—")

        status = QGroupBox("Agent")
        form = QFormLayout(status)
        form.addRow("State:", self.state_label)
        form.addRow("API:", self.api_label)
        form.addRow("Database key:", self.key_label)
        form.addRow("", self.key_warning)
        form.addRow("Open tasks:", self.tasks_label)

        self.command = QLineEdit()
        self.command.setPlaceholderText("Type a shell command and press Enter, e.g. ls -l ~")
        self.command.setAccessibleName("Quick command")
        self.run_button = QPushButton("Run")
        self.run_button.setAccessibleName("Run the quick command")
        self.command_error = ErrorLabel()
        quick = QGroupBox("Quick command")
        quick_layout = QVBoxLayout(quick)
        row = QHBoxLayout()
        row.addWidget(self.command, 1)
        row.addWidget(self.run_button)
        quick_layout.addLayout(row)
        quick_layout.addWidget(self.command_error)

        self.active_list = RunList("Running and queued runs")
        self.recent_list = RunList("Recent runs")
        self.failure_list = RunList("Recent failures")
        lists = QHBoxLayout()
        for title, widget in (
            ("Running", self.active_list),
            ("Recent", self.recent_list),
            ("Failures", self.failure_list),
        ):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(widget)
            widget.run_chosen.connect(self.open_run)
            lists.addWidget(box)

        layout = QVBoxLayout(self)
        layout.addWidget(status)
        layout.addWidget(quick)
        layout.addLayout(lists, 1)

        self.command.returnPressed.connect(self.run_command)
        self.run_button.clicked.connect(self.run_command)
        # Many events arrive in bursts (a run queues, starts, ends): refresh once.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        host.when_started(self.refresh)
        host.failed.connect(self._on_failed)
        host.agent_event.connect(self._on_event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Fetch the overview from the agent."""
        self._host.call(jobs.overview, self._show, self._on_error)

    def run_command(self) -> None:
        """Run what is in the quick command box."""
        line = self.command.text().strip()
        if not line:
            self._show_command_error("Type a command first.")
            return
        self.command_error.hide()
        self.run_button.setEnabled(False)

        def started(record: RunRecord) -> None:
            self.run_button.setEnabled(True)
            self.command.clear()
            self.run_started.emit(record.id, line)

        def failed(error: AtomError) -> None:
            self.run_button.setEnabled(True)
            self._show_command_error(str(error))

        self._host.call(lambda runtime: jobs.start_shell(runtime, line), started, failed)

    def _show_command_error(self, message: str) -> None:
        self.command_error.show_error(message)

    def _show(self, view: jobs.AgentOverview) -> None:
        self.state_label.setText("Paused: queued runs wait" if view.paused else "Running")
        self.api_label.setText(view.api_url)
        self.key_label.setText(view.key_storage or "—")
        self.key_warning.setVisible(bool(view.key_warning))
        self.key_warning.setText(f"⚠ {view.key_warning}" if view.key_warning else "")
        self.tasks_label.setText(str(view.tasks_open))
        self.overview_loaded.emit(view)
        for widget, runs in (
            (self.active_list, view.active),
            (self.recent_list, view.recent),
            (self.failure_list, view.failures),
        ):
            widget.show_runs(runs)

    def _on_event(self, event: Event) -> None:
        if event.kind in ("run.changed", "task.changed", "runner.paused"):
            self._refresh_timer.start()

    def _on_failed(self, message: str) -> None:
        self.state_label.setText("Could not start")
        self.key_warning.setText(message)
        self.key_warning.show()

    def _on_error(self, error: AtomError) -> None:
        self.state_label.setText(f"Unavailable: {error}")
