"""The approvals inbox: shell steps of ``ask`` automations that wait for a person."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
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
from atom_desktop.gui.empty_state import EmptyState
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.number_cells import set_number_cell
from atom_desktop.gui.relative_time import set_time_cell
from atom_desktop.gui.run_labels import short_command

REFRESH_DELAY_MS = 150
TICK_MS = 15_000  # "expires in" counts down between reloads
#: The column that takes the width left over, elided in the middle.
COMMAND_COLUMN = 1


def local_time(when: datetime | None, *, seconds: bool = False) -> str:
    """``when`` in the computer's time zone, or a dash."""
    if when is None:
        return "—"
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def time_until(when: datetime, now: datetime | None = None) -> str:
    """How far away ``when`` is, roughly: ``in 5 min``, ``in 2 h 10 min``, ``3 d ago``."""
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    size = int(abs(delta))
    if size < 60:
        text = f"{size} s"
    elif size < 3600:
        text = f"{size // 60} min"
    elif size < 48 * 3600:
        minutes = size % 3600 // 60
        text = f"{size // 3600} h" + (f" {minutes} min" if minutes else "")
    else:
        text = f"{size // 86400} d"
    return f"in {text}" if delta >= 0 else f"{text} ago"


class ApprovalsPanel(QWidget):
    """Pending approvals, oldest deadline first, with Approve and Deny."""

    pending_changed = Signal(object)  # dict: approval id -> command (the tray shows it)
    #: The empty state's button: approvals come from automations set to ask.
    new_automation_requested = Signal()

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.pending: list[jobs.PendingApproval] = []
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setHeaderLabels(
            [
                self.tr("Automation"),
                self.tr("Command"),
                self.tr("Step"),
                self.tr("Asked"),
                self.tr("Expires"),
            ]
        )
        # The command keeps its start and end when cut; the other columns fit their content.
        self.table.setItemDelegateForColumn(COMMAND_COLUMN, MiddleElideDelegate(self.table))
        fit_columns(self.table, elastic=COMMAND_COLUMN)
        self.table.setAccessibleName(self.tr("Pending approvals"))
        self.empty = EmptyState(
            self.tr("No command is waiting for approval"),
            self.tr(
                "An automation whose shell steps are set to ask waits here before each "
                "command, until you approve or deny it. Set this in an automation's editor."
            ),
            action=self.tr("New automation"),
        )
        self.empty.action_requested.connect(self.new_automation_requested)
        self.approve_button = QPushButton(self.tr("Approve"))
        self.approve_button.setAccessibleName(self.tr("Approve the selected command"))
        self.deny_button = QPushButton(self.tr("Deny"))
        self.deny_button.setAccessibleName(self.tr("Deny the selected command"))
        self.message = ErrorLabel()
        hint = QLabel(
            self.tr(
                "Automations set to <i>ask</i> wait here before each shell command. "
                "Approve only commands you recognise."
            )
        )
        hint.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(hint, 1)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.deny_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._show_pending)
        self._tick.start()
        self.approve_button.clicked.connect(lambda: self.decide_selected(approve=True))
        self.deny_button.clicked.connect(lambda: self.decide_selected(approve=False))
        self.table.currentItemChanged.connect(lambda *_: self._update_buttons())
        host.when_started(self.refresh)
        host.agent_event.connect(self._on_event)
        self._show_pending()

    def refresh(self) -> None:
        """Reload the pending approvals."""
        self._host.call(jobs.pending_approvals, self._show, self._show_error)

    def _show(self, pending: list[jobs.PendingApproval]) -> None:
        self.pending = pending
        self._show_pending()
        self.pending_changed.emit({p.record.id: p.record.command for p in pending})

    def _show_pending(self) -> None:
        selected = self.selected_id()
        self.table.clear()
        now = datetime.now(UTC)
        for entry in self.pending:
            record = entry.record
            item = QTreeWidgetItem(
                [
                    entry.automation_name,
                    short_command(record.command, 200),
                    "",
                    "",
                    time_until(record.expires_at, now),
                ]
            )
            set_number_cell(item, 2, record.step + 1)
            set_time_cell(item, 3, record.created_at, now)
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(1, self.tr("<pre>{0}</pre>").format(html.escape(record.command)))
            item.setToolTip(4, local_time(record.expires_at, seconds=True))
            self.table.addTopLevelItem(item)
            if record.id == selected:
                self.table.setCurrentItem(item)
        first = self.table.topLevelItem(0)
        if self.table.currentItem() is None and first is not None:
            self.table.setCurrentItem(first)
        self.table.setVisible(bool(self.pending))
        self.empty.setVisible(not self.pending)
        self._update_buttons()

    def selected_id(self) -> str | None:
        """The id of the selected approval, if any."""
        item = self.table.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else None

    def decide_selected(self, *, approve: bool) -> None:
        """Approve or deny the selected command (recorded as decided by the desktop app)."""
        approval_id = self.selected_id()
        if approval_id is None:
            return
        self.message.hide()
        self.approve_button.setEnabled(False)
        self.deny_button.setEnabled(False)
        self._host.call(
            lambda rt: jobs.decide_approval(rt, approval_id, approve),
            lambda _: self.refresh(),
            self._decision_failed,
        )

    def _decision_failed(self, error: AtomError) -> None:
        self._show_error(error)
        self.refresh()  # it was probably decided elsewhere or expired

    def _update_buttons(self) -> None:
        has = self.table.currentItem() is not None
        self.approve_button.setEnabled(has)
        self.deny_button.setEnabled(has)

    def _on_event(self, event: Event) -> None:
        if event.kind == "approval.changed":
            self._refresh_timer.start()

    def _show_error(self, error: AtomError) -> None:
        self.message.show_error(str(error))
