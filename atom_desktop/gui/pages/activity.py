"""Activity: the audit log and the agent's live events."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.column_sizing import fit_columns
from atom_desktop.gui.elide_delegate import MiddleElideDelegate
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.number_cells import NUMBER_ALIGNMENT, set_number_cell
from atom_desktop.gui.relative_time import set_time_cell
from atom_desktop.gui.style import heading, page_margins

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.audit import AuditEntry

MAX_EVENTS = 500
TARGET_COLUMN = 3
AUDIT_DELAY_MS = 500
#: What the log holds, exactly (store/audit.py, api/app.py and gui/jobs.py write it).
AUDIT_HEADER = (
    "<b>Audit log</b> — every request to the API that could change something "
    "(by the name of its token; refused and failed ones too), and every change made "
    "in this window (by <i>window</i>): runs started, re-run, cancelled or typed into, "
    "pause and resume, tasks, tokens, automations, approvals, sync, integrations "
    "and updates. "
    "Reads are not recorded, nor the text typed into a run, nor settings saved to the "
    "config file (they can be changed while the agent is not running)."
)


class ActivityPage(QWidget):
    """Who did what (audit) and what is happening (events)."""

    run_command_requested = Signal()  # an empty state's "Run a command"

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.audit = QTreeWidget()
        self.audit.setRootIsDecorated(False)
        self.audit.setUniformRowHeights(True)
        self.audit.setAlternatingRowColors(True)
        self.audit.setHeaderLabels(
            [
                self.tr("When"),
                self.tr("By"),
                self.tr("Action"),
                self.tr("Target"),
                self.tr("Status"),
                self.tr("Result"),
            ]
        )
        self.audit.headerItem().setTextAlignment(4, NUMBER_ALIGNMENT)
        # Every column as wide as its content; the target (ids, paths) takes the rest.
        self.audit.setItemDelegateForColumn(TARGET_COLUMN, MiddleElideDelegate(self.audit))
        fit_columns(self.audit, elastic=TARGET_COLUMN)
        self.audit.setAccessibleName(self.tr("Audit log"))
        self.events = QListWidget()
        self.events.setAccessibleName(self.tr("Live events"))
        self.events.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.audit_empty = EmptyState(
            self.tr("Nothing recorded yet"),
            self.tr(
                "Each change made in this window or through the API is listed here with who "
                "made it: run a command or add a task and it appears."
            ),
            action=self.tr("Run a command"),
        )
        self.audit_stack = EmptyStateStack(self.audit, self.audit_empty)
        self.audit_stack.follow(self.audit.model())
        self.events_empty = EmptyState(
            self.tr("No events since the window opened"),
            self.tr(
                "What the agent does shows here live: runs starting and ending, tasks "
                "changing, automations firing, sync."
            ),
            action=self.tr("Run a command"),
        )
        self.events_stack = EmptyStateStack(self.events, self.events_empty)
        self.events_stack.follow(self.events.model())
        for empty in (self.audit_empty, self.events_empty):
            empty.action_requested.connect(self.run_command_requested)
        self.message = ErrorLabel()

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        header = QLabel(AUDIT_HEADER)
        header.setWordWrap(True)
        top_layout.addWidget(header)
        top_layout.addWidget(self.audit_stack, 1)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(heading(self.tr("Live events"), level=2))
        bottom_layout.addWidget(self.events_stack, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        layout = page_margins(QVBoxLayout(self))
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)

        self._audit_timer = QTimer(self)
        self._audit_timer.setSingleShot(True)
        self._audit_timer.setInterval(AUDIT_DELAY_MS)
        self._audit_timer.timeout.connect(self.refresh)
        host.when_started(self.refresh)
        host.agent_event.connect(self.add_event)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Reload the audit log."""
        self._host.call(jobs.audit_entries, self._show_audit, self._show_error)

    def _show_audit(self, entries: list[AuditEntry]) -> None:
        self.message.hide()  # an earlier failure (e.g. before the agent ran) is over
        self.audit.clear()
        now = datetime.now(UTC)
        for entry in entries:
            item = QTreeWidgetItem(
                ["", _actor_text(entry), entry.action, entry.target or "", "", entry.result]
            )
            set_time_cell(item, 0, entry.at, now)
            item.setToolTip(TARGET_COLUMN, entry.target or "")
            set_number_cell(item, 4, entry.status)
            self.audit.addTopLevelItem(item)

    def add_event(self, event: Event) -> None:
        """Show a live event (newest first, the list bounded)."""
        fields = ", ".join(
            f"{field.name}={getattr(event.payload, field.name)}"
            for field in dataclasses.fields(event.payload)
        )
        when = event.time.astimezone().strftime("%H:%M:%S")
        text = f"{when}  #{event.id}  {event.kind}  {fields}"
        self.events.insertItem(0, text)
        first = self.events.item(0)
        if first is not None:
            first.setToolTip(text)
        while self.events.count() > MAX_EVENTS:
            self.events.takeItem(self.events.count() - 1)
        self._audit_timer.start()

    def _show_error(self, error: AtomError) -> None:
        self.message.show_error(str(error))


def _actor_text(entry: AuditEntry) -> str:
    """Who: the window, or the API request's token (none when it was refused for lack of one)."""
    if entry.actor == "window":
        return "window"
    return entry.token_name or "API, no token"
