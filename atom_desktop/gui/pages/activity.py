"""Activity: the audit log and the agent's live events."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHeaderView,
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
from atom_desktop.gui.error_label import ErrorLabel

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.audit import AuditEntry

MAX_EVENTS = 500
AUDIT_DELAY_MS = 500
#: What the log holds, exactly (store/audit.py, api/app.py and gui/jobs.py write it).
AUDIT_HEADER = (
    "<b>Audit log</b> — every request to the API that could change something "
    "(by the name of its token; refused and failed ones too), and every change made "
    "in this window (by <i>window</i>): runs started, re-run, cancelled or typed into, "
    "pause and resume, tasks, tokens, automations, approvals, sync and integrations. "
    "Reads are not recorded, nor the text typed into a run."
)


class ActivityPage(QWidget):
    """Who did what (audit) and what is happening (events)."""

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.audit = QTreeWidget()
        self.audit.setRootIsDecorated(False)
        self.audit.setUniformRowHeights(True)
        self.audit.setAlternatingRowColors(True)
        self.audit.setHeaderLabels(["Time", "By", "Action", "Target", "Status", "Result"])
        self.audit.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.audit.setAccessibleName("Audit log")
        self.events = QListWidget()
        self.events.setAccessibleName("Live events")
        self.message = ErrorLabel()

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        header = QLabel(AUDIT_HEADER)
        header.setWordWrap(True)
        top_layout.addWidget(header)
        top_layout.addWidget(self.audit, 1)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(QLabel("<b>Live events</b>"))
        bottom_layout.addWidget(self.events, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        layout = QVBoxLayout(self)
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
        self.audit.clear()
        for entry in entries:
            self.audit.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                        _actor_text(entry),
                        entry.action,
                        entry.target or "",
                        str(entry.status),
                        entry.result,
                    ]
                )
            )

    def add_event(self, event: Event) -> None:
        """Show a live event (newest first, the list bounded)."""
        fields = ", ".join(
            f"{field.name}={getattr(event.payload, field.name)}"
            for field in dataclasses.fields(event.payload)
        )
        when = event.time.astimezone().strftime("%H:%M:%S")
        self.events.insertItem(0, f"{when}  #{event.id}  {event.kind}  {fields}")
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
