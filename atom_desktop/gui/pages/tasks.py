"""Tasks: search, filter, create, edit, complete and delete, from the keyboard."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
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
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.task_dialog import PRIORITIES, TaskDialog
from atom_desktop.gui.relative_time import set_time_cell
from atom_desktop.gui.status_chip import StatusChipDelegate, set_status_cell
from atom_desktop.gui.style import page_margins
from atom_desktop.store.task_types import Task, TaskFilter, TaskStatus, TaskUpdate

SEARCH_DELAY_MS = 200
FILTERS: list[tuple[object, tuple[TaskStatus, ...] | None]] = [
    (QT_TRANSLATE_NOOP("TasksPage", "Open"), ("todo", "doing")),
    (QT_TRANSLATE_NOOP("TasksPage", "To do"), ("todo",)),
    (QT_TRANSLATE_NOOP("TasksPage", "Doing"), ("doing",)),
    (QT_TRANSLATE_NOOP("TasksPage", "Done"), ("done",)),
    (QT_TRANSLATE_NOOP("TasksPage", "All"), None),
]
STATUS_COLUMN = 1
DUE_COLUMN = 3


class TasksPage(QWidget):
    """The task list with its search box and actions."""

    loaded = Signal(int)  # how many tasks are shown (tests and the status bar use it)

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._tasks: dict[str, Task] = {}
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search titles and notes (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search tasks"))
        self.filter = QComboBox()
        for label, _ in FILTERS:
            self.filter.addItem(self.tr(str(label)))
        self.filter.setAccessibleName(self.tr("Show tasks"))
        self.new_button = QPushButton("New (Ctrl+N)")
        self.complete_button = QPushButton("Complete (Ctrl+D)")
        self.delete_button = QPushButton(self.tr("Delete"))
        for button, name in (
            (self.new_button, self.tr("New task")),
            (self.complete_button, self.tr("Complete the selected task")),
            (self.delete_button, self.tr("Delete the selected task")),
        ):
            button.setAccessibleName(name)
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setHeaderLabels(
            [
                self.tr("Title"),
                self.tr("Status"),
                self.tr("Priority"),
                self.tr("Due"),
                self.tr("Tags"),
            ]
        )
        self.table.setItemDelegateForColumn(STATUS_COLUMN, StatusChipDelegate(self.table))
        # Every column as wide as its content; the title takes what is left.
        fit_columns(self.table, elastic=0)
        self.table.setAccessibleName(self.tr("Tasks"))
        self.empty = EmptyState(
            self.tr("No tasks yet"),
            self.tr(
                "Tasks you add here, from the API or from an automation's steps are listed "
                "with their status, priority and due date."
            ),
            action=self.tr("Add a task"),
        )
        self.empty.action_requested.connect(self._empty_action)
        self.stack = EmptyStateStack(self.table, self.empty)
        self.message = ErrorLabel()

        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.filter)
        bar.addWidget(self.new_button)
        bar.addWidget(self.complete_button)
        bar.addWidget(self.delete_button)
        layout = page_margins(QVBoxLayout(self))
        layout.addLayout(bar)
        layout.addWidget(self.message)
        layout.addWidget(self.stack, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.filter.currentIndexChanged.connect(lambda _: self.refresh())
        self.new_button.clicked.connect(self.new_task)
        self.complete_button.clicked.connect(self.complete_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.table.itemActivated.connect(lambda item, _col: self.edit_task(self._id_of(item)))
        for keys, slot in (
            (QKeySequence.StandardKey.New, self.new_task),
            (QKeySequence.StandardKey.Find, self.focus_search),
            (QKeySequence("Ctrl+D"), self.complete_selected),
            (QKeySequence.StandardKey.Delete, self.delete_selected),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        host.when_started(self.refresh)
        host.agent_event.connect(self._on_event)

    # -- reading ------------------------------------------------------------------------

    def current_filter(self) -> TaskFilter:
        """What the search box and the filter select."""
        text = self.search.text().strip() or None
        return TaskFilter(statuses=FILTERS[self.filter.currentIndex()][1], text=text)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Reload the list from the agent."""
        filters = self.current_filter()
        self._host.call(lambda rt: jobs.list_tasks(rt, filters), self._show, self._show_error)

    def _show(self, tasks: list[Task]) -> None:
        selected = self.selected_id()
        self._tasks = {t.id: t for t in tasks}
        self.table.clear()
        now = datetime.now(UTC)
        for task in tasks:
            item = QTreeWidgetItem(
                [
                    task.title,
                    "",
                    PRIORITIES[task.priority] if task.priority else "",
                    "",
                    " ".join(task.tags),
                ]
            )
            item.setToolTip(0, task.title)
            set_status_cell(item, STATUS_COLUMN, task.status)
            set_time_cell(item, DUE_COLUMN, task.due_at, now)
            item.setData(0, Qt.ItemDataRole.UserRole, task.id)
            if task.status == "done":
                font = item.font(0)
                font.setStrikeOut(True)
                item.setFont(0, font)
            self.table.addTopLevelItem(item)
            if task.id == selected:
                self.table.setCurrentItem(item)
        first = self.table.topLevelItem(0)
        if self.table.currentItem() is None and first is not None:
            self.table.setCurrentItem(first)
        self._show_empty(not tasks)
        self.message.hide()
        self.loaded.emit(len(tasks))

    def _filtered(self) -> bool:
        return bool(self.search.text().strip()) or self.filter.currentIndex() not in (0, 4)

    def _show_empty(self, empty: bool) -> None:
        # No task at all asks for one; none matching offers to widen the search.
        if empty and self._filtered():
            self.empty.title.setText(self.tr("No tasks match"))
            self.empty.text.setText(
                self.tr("No task has this text or status. Clear the search to see them all.")
            )
            button_text = self.tr("Clear the search")
        else:
            self.empty.title.setText(self.tr("No tasks yet"))
            self.empty.text.setText(
                self.tr(
                    "Tasks you add here, from the API or from an automation's steps are "
                    "listed with their status, priority and due date."
                )
            )
            button_text = self.tr("Add a task")
        if self.empty.button is not None:
            self.empty.button.setText(button_text)
            self.empty.button.setAccessibleName(button_text)
        self.stack.set_empty(empty)

    def _empty_action(self) -> None:
        if self._filtered():
            self.search.clear()
            self.filter.setCurrentIndex(0)
            self.refresh()
        else:
            self.new_task()

    def selected_id(self) -> str | None:
        """The id of the selected task, if any."""
        item = self.table.currentItem()
        return self._id_of(item) if item is not None else None

    @staticmethod
    def _id_of(item: QTreeWidgetItem) -> str:
        return str(item.data(0, Qt.ItemDataRole.UserRole))

    # -- acting ----------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.search.setFocus()
        self.search.selectAll()

    def new_task(self) -> None:
        """Ask for a new task and store it."""
        dialog = TaskDialog(parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            data = dialog.create_data()
            self._host.call(lambda rt: jobs.create_task(rt, data), None, self._show_error)

    def edit_task(self, task_id: str) -> None:
        """Edit a task in the dialog."""
        task = self._tasks.get(task_id)
        if task is None:
            return
        dialog = TaskDialog(task, parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            changes = dialog.update_data()
            self._host.call(
                lambda rt: jobs.update_task(rt, task_id, changes), None, self._show_error
            )

    def complete_selected(self) -> None:
        """Mark the selected task done."""
        task_id = self.selected_id()
        if task_id is None:
            return
        changes = TaskUpdate(status="done")
        self._host.call(lambda rt: jobs.update_task(rt, task_id, changes), None, self._show_error)

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected task (after asking)."""
        task_id = self.selected_id()
        if task_id is None:
            return
        title = self._tasks[task_id].title if task_id in self._tasks else task_id
        if confirm:
            answer = QMessageBox.question(
                self, self.tr("Delete task"), self.tr("Delete “%1”?").replace("%1", title)
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._host.call(lambda rt: jobs.delete_task(rt, task_id), None, self._show_error)

    def _on_event(self, event: Event) -> None:
        if event.kind == "task.changed":
            self._search_timer.start()

    def _show_error(self, error: AtomError) -> None:
        self.message.show_error(str(error))
