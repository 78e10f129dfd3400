"""Home, the dashboard: how the agent is, a quick command box, what runs now, the last
failures (re-run in one click), today's automation fires, sync and integrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.elided_label import ElidedLabel
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.relative_time import absolute_time, relative_time
from atom_desktop.gui.run_list import COMMAND_ROLE, NOTE_ROLE, RUN_ID_ROLE, RunList
from atom_desktop.gui.status_chip import STATUS_ROLE
from atom_desktop.gui.style import Spacing, page_margins
from atom_desktop.gui.sync_words import sync_line

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.core.events import Event
    from atom_desktop.gui.dashboard_data import DashboardExtras
    from atom_desktop.store.runs import RunRecord

REFRESH_DELAY_MS = 150


class HomePage(QWidget):
    """The first page: agent status and a box to run a command now."""

    run_started = Signal(str, str)  # run id, what was run
    open_run = Signal(str, str)  # run id, what was run
    open_automations = Signal()  # the automations card's empty state
    overview_loaded = Signal(object)  # jobs.AgentOverview
    key_question_requested = Signal()  # show the open key storage question again

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.state_label = QLabel(self.tr("Starting the agent…"))
        self.api_label = QLabel("—")
        self.api_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A key file's path can be longer than the screen is wide.
        self.key_label = ElidedLabel("—")
        # While the first-run question about the key waits for an answer: bring it back.
        self.key_question_button = QPushButton(self.tr("Show the question"))
        self.key_question_button.setAccessibleName(
            self.tr("Show the question where to keep the database key")
        )
        self.key_question_button.clicked.connect(self.key_question_requested)
        self.key_question_button.hide()
        self.key_warning = QLabel()
        self.key_warning.setWordWrap(True)
        self.key_warning.setObjectName("warning")
        self.key_warning.setStyleSheet(
            "QLabel#warning { background: #fff3cd; color: #664d03; border: 1px solid #e0c36a;"
            " border-radius: 4px; padding: 6px; }"
        )
        self.key_warning.hide()
        self.tasks_label = QLabel("—")

        status = QGroupBox(self.tr("Agent"))
        form = QFormLayout(status)
        form.setHorizontalSpacing(Spacing.L)
        form.addRow(self.tr("State:"), self.state_label)
        form.addRow(self.tr("API:"), self.api_label)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_label, 1)
        key_row.addWidget(self.key_question_button)
        form.addRow(self.tr("Database key:"), key_row)
        form.addRow("", self.key_warning)
        form.addRow(self.tr("Open tasks:"), self.tasks_label)

        self.command = QLineEdit()
        self.command.setPlaceholderText(
            self.tr("Type a shell command and press Enter, e.g. ls -l ~")
        )
        self.command.setAccessibleName(self.tr("Quick command"))
        self.run_button = QPushButton(self.tr("Run"))
        self.run_button.setAccessibleName(self.tr("Run the quick command"))
        self.command_error = ErrorLabel()
        quick = QGroupBox(self.tr("Quick command"))
        quick_layout = QVBoxLayout(quick)
        row = QHBoxLayout()
        row.addWidget(self.command, 1)
        row.addWidget(self.run_button)
        quick_layout.addLayout(row)
        quick_layout.addWidget(self.command_error)

        # The dashboard: four cards, each saying what will appear in it and how.
        self.active_list = RunList(self.tr("Running now"))
        self.recent_list = RunList(self.tr("Recent runs"))
        self.failure_list = RunList(self.tr("Last failures"))
        self.fires_list = RunList(self.tr("Today's automations"))
        self.rerun_button = QPushButton(self.tr("Re-run"))
        self.rerun_button.setAccessibleName(self.tr("Run the selected failure again"))
        self.rerun_button.setToolTip(self.tr("Run the failed command again (Ctrl+R)"))
        self.rerun_button.setShortcut("Ctrl+R")
        self.rerun_button.clicked.connect(self.rerun_failure)
        self.failure_list.currentItemChanged.connect(
            lambda item, _previous: self.rerun_button.setEnabled(item is not None)
        )
        self.rerun_button.setEnabled(False)
        self.rerun_button.hide()  # until there is a failure to run again
        self.cards: dict[str, EmptyStateStack] = {}
        grid = QGridLayout()
        grid.setSpacing(Spacing.M)
        for place, (key, title, widget, empty) in enumerate(
            (
                (
                    "running",
                    self.tr("Running now"),
                    self.active_list,
                    EmptyState(
                        self.tr("Nothing is running"),
                        self.tr(
                            "Commands started here, from the tray, the API or an automation "
                            "show here while they run."
                        ),
                        action=self.tr("Type a command"),
                    ),
                ),
                (
                    "failures",
                    self.tr("Last failures"),
                    self.failure_list,
                    EmptyState(
                        self.tr("No failures"),
                        self.tr(
                            "Runs that fail or time out are listed here, ready to run again "
                            "with one click."
                        ),
                    ),
                ),
                (
                    "automations",
                    self.tr("Today's automations"),
                    self.fires_list,
                    EmptyState(
                        self.tr("No automation has fired today"),
                        self.tr(
                            "Automations run steps on a schedule, when files change, or by "
                            "hand. Today's runs, and those still due today, show here."
                        ),
                        action=self.tr("Open Automations"),
                    ),
                ),
                (
                    "recent",
                    self.tr("Recent runs"),
                    self.recent_list,
                    EmptyState(
                        self.tr("No runs yet"),
                        self.tr("The last ten runs, whatever started them. Enter opens one."),
                        action=self.tr("Type a command"),
                    ),
                ),
            )
        ):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            box_layout.setContentsMargins(Spacing.S, Spacing.S, Spacing.S, Spacing.S)
            stack = EmptyStateStack(widget, empty)
            stack.set_empty(True)
            self.cards[key] = stack
            box_layout.addWidget(stack, 1)
            if key == "failures":
                box_layout.addWidget(self.rerun_button, 0, Qt.AlignmentFlag.AlignRight)
            widget.run_chosen.connect(self.open_run if key != "automations" else self._open_fire)
            grid.addWidget(box, place // 2, place % 2)
        self.cards["running"].empty.action_requested.connect(self.command.setFocus)
        self.cards["recent"].empty.action_requested.connect(self.command.setFocus)
        self.cards["automations"].empty.action_requested.connect(self.open_automations)
        # Sync and integrations: a line each, once they exist.
        self.sync_label = QLabel()
        self.sync_label.setAccessibleName(self.tr("Sync status"))
        self.integrations_label = QLabel()
        self.integrations_label.setAccessibleName(self.tr("Integrations status"))
        services = QHBoxLayout()
        services.setSpacing(Spacing.XL)
        services.addWidget(self.sync_label)
        services.addWidget(self.integrations_label)
        services.addStretch(1)
        self.sync_label.hide()
        self.integrations_label.hide()

        layout = page_margins(QVBoxLayout(self))
        layout.addWidget(status)
        layout.addWidget(quick)
        layout.addLayout(grid, 1)
        layout.addLayout(services)

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
        """Fetch the overview (and the dashboard's other parts) from the agent."""
        self._host.call(jobs.overview, self._show, self._on_error)
        # Imported here: Home is built before the window's first paint, its data after.
        from atom_desktop.gui.dashboard_data import dashboard_extras  # noqa: PLC0415

        self._host.call(dashboard_extras, self._show_extras, self._on_error)

    def rerun_failure(self) -> None:
        """Run the selected failure (or the latest one) again, and show it in the Console."""
        if self.failure_list.count() == 0:
            return
        item = self.failure_list.currentItem() or self.failure_list.item(0)
        run_id, command = str(item.data(RUN_ID_ROLE)), self.failure_list.command_of(item)

        def started(record: RunRecord) -> None:
            self.run_started.emit(record.id, command)

        self._host.call(lambda runtime: jobs.rerun(runtime, run_id), started, self._on_error)

    def run_command(self) -> None:
        """Run what is in the quick command box."""
        line = self.command.text().strip()
        if not line:
            self._show_command_error(self.tr("Type a command first."))
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

    def show_key_question(self, answers: list[str]) -> None:
        """Say the key storage question waits for an answer (``answers``: those it offers)."""
        self.key_label.setText(
            self.tr("Waiting for your answer — %1").replace("%1", " / ".join(answers))
        )
        self.key_question_button.show()

    def key_question_settled(self) -> None:
        """The question is answered: the key's place shows once the agent reports it."""
        self.key_question_button.hide()
        self.key_label.setText("—")

    def _show(self, view: jobs.AgentOverview) -> None:
        self.state_label.setText(
            self.tr("Paused: queued runs wait") if view.paused else self.tr("Running")
        )
        self.api_label.setText(view.api_url)
        self.key_label.setText(view.key_storage or "—")
        self.key_warning.setVisible(bool(view.key_warning))
        self.key_warning.setText(f"⚠ {view.key_warning}" if view.key_warning else "")
        self.tasks_label.setText(str(view.tasks_open))
        self.overview_loaded.emit(view)
        now = datetime.now(UTC)
        for key, widget, runs in (
            ("running", self.active_list, view.active),
            ("recent", self.recent_list, view.recent),
            ("failures", self.failure_list, view.failures),
        ):
            widget.show_runs(runs, now)
            self.cards[key].set_empty(not runs)
        if self.failure_list.count() and self.failure_list.currentItem() is None:
            self.failure_list.setCurrentRow(0)
        self.rerun_button.setVisible(bool(view.failures))

    def _show_extras(self, extras: DashboardExtras) -> None:
        now = datetime.now(UTC)
        self.fires_list.clear()
        for fire in extras.fires:
            note = relative_time(fire.at, now)
            item = QListWidgetItem(fire.name)
            item.setData(RUN_ID_ROLE, fire.automation_id)
            item.setData(STATUS_ROLE, fire.status)
            item.setData(COMMAND_ROLE, fire.name)
            item.setData(NOTE_ROLE, note if fire.status else self.tr("due %1").replace("%1", note))
            item.setToolTip(f"{fire.name}\n{absolute_time(fire.at)}")
            self.fires_list.addItem(item)
        self.cards["automations"].set_empty(not extras.fires)
        self.sync_label.setVisible(extras.sync is not None)
        if extras.sync is not None:
            self.sync_label.setText(
                sync_line(str(extras.sync.state), extras.sync.pending, extras.sync.conflicts)
            )
            self.sync_label.setToolTip(extras.sync.last_error or "")
        accounts = extras.connected + extras.need_attention
        self.integrations_label.setVisible(accounts > 0)
        text = self.tr("Integrations: %1 connected").replace("%1", str(extras.connected))
        if extras.need_attention:
            text += self.tr(" · %1 need attention").replace("%1", str(extras.need_attention))
        self.integrations_label.setText(text)

    def _open_fire(self, _automation_id: str, _name: str) -> None:
        self.open_automations.emit()

    def _on_event(self, event: Event) -> None:
        if event.kind in ("run.changed", "task.changed", "runner.paused"):
            self._refresh_timer.start()

    def _on_failed(self, message: str) -> None:
        self.state_label.setText(self.tr("Could not start"))
        self.key_warning.setText(message)
        self.key_warning.show()

    def _on_error(self, error: AtomError) -> None:
        self.state_label.setText(self.tr("Unavailable: %1").replace("%1", str(error)))
