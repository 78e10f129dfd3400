"""Sync: its state, the queue, the last error, Sync now, the server, and the conflict inbox.

Everything shown is read from the agent's sync service and store on the
agent thread; the page follows ``sync.status`` events (through the agent
host's one bridge) and reads again when one arrives. The words for each
state are defined here once; the tray uses them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.actors import Actor
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event, SyncStatusChanged
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.sync_connection_form import ConnectionForm
from atom_desktop.gui.relative_time import absolute_time, relative_time
from atom_desktop.gui.status_chip import status_colours
from atom_desktop.gui.style import current_theme
from atom_desktop.gui.sync_words import state_words
from atom_desktop.gui.translations import english_plural

# Types only: sync and the store load psycopg and SQLAlchemy on the agent thread.
if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime
    from atom_desktop.store.sync_conflicts import ConflictRecord
    from atom_desktop.sync.service import SyncStatus

#: Each state's colour on the page.
STATE_COLOURS = {
    # The tone of the run status of the same meaning (the status chips' palette).
    "off": "cancelled",
    "syncing": "running",
    "up_to_date": "succeeded",
    "offline": "timed_out",
    "error": "failed",
}
#: How many open conflicts the page lists (the newest).
CONFLICT_LIMIT = 200
#: Events arriving together cause one read.
REFRESH_DELAY_MS = 100


# -- on the agent thread ------------------------------------------------------------------


@dataclass(frozen=True)
class ConflictView:
    """An open conflict as the page lists it: never a secret, only names and times."""

    id: int
    entity: str
    #: The kept version: a task's title or an automation's name, or what it was.
    kept: str
    #: When the kept version was made (its stamp's clock).
    made_at: datetime
    #: The device whose version won, and when it made it.
    winner_device: str
    winner_at: datetime
    #: The row as this device holds it now.
    now: str
    #: Why Restore cannot be used here (None: it can).
    restore_blocked: str | None


@dataclass(frozen=True)
class SyncOverview:
    """What the page shows: the status and the open conflicts."""

    status: SyncStatus
    conflicts: list[ConflictView]


async def sync_overview(runtime: Runtime) -> SyncOverview:
    """The status with fresh counts, and the newest open conflicts."""
    status = await runtime.sync.async_status()
    records = await runtime.sync_conflicts.async_page(limit=CONFLICT_LIMIT)
    return SyncOverview(status, [_view(record) for record in records])


async def sync_now(runtime: Runtime) -> int:
    """Ask for a full sync now; SyncOffError when no server is configured."""
    started = await runtime.sync.async_run_now()
    await _audit(runtime, "sync.run", None)
    return started


async def restore_conflict(runtime: Runtime, conflict_id: int) -> None:
    """Make a kept version the current one again, as a new change made here now."""
    await runtime.sync_conflicts.async_restore(conflict_id)
    await _audit(runtime, "sync.conflict.restore", str(conflict_id))


async def dismiss_conflict(runtime: Runtime, conflict_id: int) -> None:
    """Keep the version that won; the conflict is resolved."""
    await runtime.sync_conflicts.async_dismiss(conflict_id)
    await _audit(runtime, "sync.conflict.dismiss", str(conflict_id))


async def _audit(runtime: Runtime, action: str, target: str | None) -> None:
    import asyncio  # noqa: PLC0415

    await asyncio.to_thread(
        runtime.audit.record,
        actor=Actor.WINDOW,
        action=action,
        target=target,
        status=200,
        result="ok",
    )


def _view(record: ConflictRecord) -> ConflictView:
    from atom_desktop.core.hlc import unpack  # noqa: PLC0415
    from atom_desktop.store.sync_conflicts import check_restorable  # noqa: PLC0415

    blocked: str | None = None
    try:
        check_restorable(record)
    except AtomError as exc:
        blocked = exc.message
    current = record.current
    return ConflictView(
        id=record.id,
        entity=record.entity,
        kept=_kept(record),
        made_at=_stamp_time(unpack(record.hlc)[0]),
        winner_device=record.winner_device_id,
        winner_at=_stamp_time(unpack(record.winner_hlc)[0]),
        now=(current.title or "—")
        if current.exists
        else QCoreApplication.translate("SyncPage", "(deleted here)"),
        restore_blocked=blocked,
    )


def _kept(record: ConflictRecord) -> str:
    if record.reason == "rejected":
        why = record.payload.get("why") or QCoreApplication.translate("SyncPage", "unreadable")
        return QCoreApplication.translate("SyncPage", "refused here: %1").replace("%1", str(why))
    if record.deleted:
        return QCoreApplication.translate("SyncPage", "(deleted)")
    name = record.payload.get("title") or record.payload.get("name")
    return str(name) if name else "—"


def _stamp_time(physical_ms: int) -> datetime:
    return datetime.fromtimestamp(physical_ms / 1000, UTC)


# -- the page -------------------------------------------------------------------------------


class SyncPage(QWidget):
    """Sync's status, Sync now, the server form, and the open conflicts."""

    #: The status as last read (SyncStatus), for whoever shows it elsewhere.
    status_loaded = Signal(object)

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._loading = False
        self._again = False
        self.status: SyncStatus | None = None

        # Status
        self.state_dot = QLabel("●")
        self.state_dot.setAccessibleName(self.tr("Sync state colour"))
        self.state_label = QLabel("—")
        self.state_label.setAccessibleName(self.tr("Sync state"))
        font = self.state_label.font()
        font.setBold(True)
        self.state_label.setFont(font)
        self.sync_now_button = QPushButton(self.tr("Sync now"))
        self.sync_now_button.setAccessibleName(self.tr("Sync now"))
        self.sync_now_button.setEnabled(False)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_dot)
        state_row.addWidget(self.state_label)
        state_row.addStretch(1)
        state_row.addWidget(self.sync_now_button)
        self.server_label = _value_label(self.tr("Sync server"))
        self.pending_label = _value_label(self.tr("Changes waiting"))
        self.last_success_label = _value_label(self.tr("Last successful sync"))
        self.last_error_label = _value_label(self.tr("Last sync error"))
        self.last_error_label.setWordWrap(True)
        self.conflicts_label = _value_label(self.tr("Open conflicts"))
        status_box = QGroupBox(self.tr("Status"))
        status_form = QFormLayout(status_box)
        status_form.addRow(state_row)
        status_form.addRow(self.tr("Server:"), self.server_label)
        status_form.addRow(self.tr("Waiting to be sent:"), self.pending_label)
        status_form.addRow(self.tr("Last success:"), self.last_success_label)
        status_form.addRow(self.tr("Last error:"), self.last_error_label)
        status_form.addRow(self.tr("Conflicts:"), self.conflicts_label)

        # Server
        self.connection = ConnectionForm(host)

        # Conflicts
        self.conflicts = QTreeWidget()
        self.conflicts.setRootIsDecorated(False)
        self.conflicts.setHeaderLabels(
            [
                self.tr("What"),
                self.tr("Kept here"),
                self.tr("Made"),
                self.tr("Lost to"),
                self.tr("Now here"),
                "",
            ]
        )
        self.conflicts.setAccessibleName(self.tr("Sync conflicts"))
        self.conflicts.setMinimumHeight(self.fontMetrics().height() * 9)
        header = self.conflicts.header()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.conflicts_note = QLabel(
            self.tr(
                "A change made here that lost to a newer one from another device waits here. "
                "Restore makes it the current version again (it wins at the next sync); "
                "Dismiss keeps the other device's version."
            )
        )
        self.conflicts_note.setWordWrap(True)
        conflicts_box = QGroupBox(self.tr("Conflicts"))
        conflicts_layout = QVBoxLayout(conflicts_box)
        conflicts_layout.addWidget(self.conflicts_note)
        self.conflicts_empty = EmptyState(
            self.tr("No conflicts"),
            self.tr(
                "When a change made here loses to a newer change of the same task or "
                "automation from another device, it waits here to be restored or dismissed. "
                "Conflicts can only happen once a sync server is set."
            ),
            action=self.tr("Set the sync server"),
        )
        self.conflicts_empty.action_requested.connect(self._edit_server)
        self.conflicts_stack = EmptyStateStack(self.conflicts, self.conflicts_empty)
        self.conflicts_stack.follow(self.conflicts.model())
        conflicts_layout.addWidget(self.conflicts_stack)

        self.message = ErrorLabel()
        self.message.setAccessibleName(self.tr("Sync message"))
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.addWidget(self.message)
        content_layout.addWidget(status_box)
        content_layout.addWidget(self.connection)
        content_layout.addWidget(conflicts_box, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.sync_now_button.clicked.connect(self.sync_now)
        self.connection.changed.connect(self.refresh)
        host.agent_event.connect(self._on_event)
        host.when_started(self._on_agent_started)

    # -- reading ----------------------------------------------------------------------------

    def _on_agent_started(self) -> None:
        self.connection.load()
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Read the status and the conflicts again (once at a time; again after if asked)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._host.call(sync_overview, self._show, self._load_failed)

    def _on_event(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, SyncStatusChanged):
            # What the event says is shown at once; the rest follows from the read.
            self._show_state(payload.state)
            self._refresh_timer.start()

    def _loaded(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.refresh()

    def _load_failed(self, error: AtomError) -> None:
        self._loaded()
        self.message.show_error(str(error))

    def _show(self, overview: SyncOverview) -> None:
        self._loaded()
        self.message.hide()
        status = overview.status
        self.status = status
        self._show_state(status.state)
        self.server_label.setText(status.server or self.tr("none"))
        if status.pending:
            waiting = english_plural(self.tr("%n change(s)", "", status.pending), status.pending)
            if status.oldest_pending:
                waiting += self.tr(", the oldest %1").replace(
                    "%1", relative_time(status.oldest_pending)
                )
            self.pending_label.setText(waiting)
        else:
            self.pending_label.setText(self.tr("nothing"))
        self.last_success_label.setText(relative_time(status.last_success) or self.tr("never"))
        self.last_success_label.setToolTip(absolute_time(status.last_success))
        self.pending_label.setToolTip(absolute_time(status.oldest_pending))
        self.last_error_label.setText(status.last_error or self.tr("none"))
        self.last_error_label.setStyleSheet(self._css("failed") if status.last_error else "")
        self.conflicts_label.setText(str(status.conflicts) if status.conflicts else self.tr("none"))
        self._show_conflicts(overview.conflicts)
        self.status_loaded.emit(status)

    def _show_state(self, state: str) -> None:
        words = state_words(state)
        self.state_label.setText(words[:1].upper() + words[1:])
        self.state_dot.setStyleSheet(self._css(STATE_COLOURS.get(state, "cancelled")))
        self.state_dot.setToolTip(words)
        self.sync_now_button.setEnabled(state != "off" and self._host.is_running)

    def _show_conflicts(self, conflicts: list[ConflictView]) -> None:
        self.conflicts.clear()
        for view in conflicts:
            item = QTreeWidgetItem(
                [
                    view.entity.capitalize(),
                    view.kept,
                    relative_time(view.made_at),
                    self.tr("device {0}, {1}").format(
                        view.winner_device[:8], relative_time(view.winner_at)
                    ),
                    view.now,
                    "",
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, view.id)
            item.setToolTip(1, view.kept)
            item.setToolTip(2, absolute_time(view.made_at))
            item.setToolTip(
                3,
                self.tr("The version of device {0}, {1}").format(
                    view.winner_device, absolute_time(view.winner_at)
                ),
            )
            item.setToolTip(4, view.now)
            self.conflicts.addTopLevelItem(item)
            self.conflicts.setItemWidget(item, 5, self._conflict_buttons(view))
        self.conflicts_note.setVisible(bool(conflicts))

    def _css(self, tone: str) -> str:
        """Text in the colour of the chips of status ``tone``, in this theme."""
        colour = status_colours(tone, dark=current_theme(self).dark)[1]
        return f"color: {colour.name()};"

    def _edit_server(self) -> None:
        """The cursor in the server's address, where sync is set up."""
        self.connection.url.setFocus(Qt.FocusReason.OtherFocusReason)
        self.connection.url.selectAll()

    def _conflict_buttons(self, view: ConflictView) -> QWidget:
        cell = QWidget()
        row = QHBoxLayout(cell)
        row.setContentsMargins(2, 0, 2, 0)
        restore = QPushButton(self.tr("Restore"))
        restore.setAccessibleName(self.tr("Restore conflict {0}").format(view.id))
        restore.setEnabled(view.restore_blocked is None)
        restore.setToolTip(
            view.restore_blocked or self.tr("Make this version the current one again")
        )
        dismiss = QPushButton(self.tr("Dismiss"))
        dismiss.setAccessibleName(self.tr("Dismiss conflict {0}").format(view.id))
        dismiss.setToolTip(self.tr("Keep the version that won"))
        restore.clicked.connect(lambda: self.restore(view.id))
        dismiss.clicked.connect(lambda: self.dismiss(view.id))
        row.addWidget(restore)
        row.addWidget(dismiss)
        return cell

    # -- actions --------------------------------------------------------------------------------

    def sync_now(self) -> None:
        """Ask the agent for a full sync now."""
        self._host.call(sync_now, lambda _: self.refresh(), self._action_failed)

    def restore(self, conflict_id: int) -> None:
        """Make a conflict's kept version the current one again."""
        self._host.call(
            lambda rt: restore_conflict(rt, conflict_id),
            lambda _: self.refresh(),
            self._action_failed,
        )

    def dismiss(self, conflict_id: int) -> None:
        """Keep the version that won."""
        self._host.call(
            lambda rt: dismiss_conflict(rt, conflict_id),
            lambda _: self.refresh(),
            self._action_failed,
        )

    def conflict_buttons(self, conflict_id: int) -> tuple[QPushButton, QPushButton]:
        """The Restore and Dismiss buttons of a listed conflict."""
        for index in range(self.conflicts.topLevelItemCount()):
            item = self.conflicts.topLevelItem(index)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == conflict_id:
                cell = self.conflicts.itemWidget(item, 5)
                if cell is not None:
                    restore, dismiss = cell.findChildren(QPushButton)
                    return restore, dismiss
        raise LookupError(f"conflict {conflict_id} is not listed")

    def listed_conflicts(self) -> list[int]:
        """The ids of the conflicts listed, in order."""
        found = []
        for index in range(self.conflicts.topLevelItemCount()):
            item = self.conflicts.topLevelItem(index)
            conflict_id = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
            if conflict_id is not None:
                found.append(int(conflict_id))
        return found

    def _action_failed(self, error: AtomError) -> None:
        self.message.show_error(str(error))
        self.refresh()


def _value_label(name: str) -> QLabel:
    label = QLabel("—")
    label.setAccessibleName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
