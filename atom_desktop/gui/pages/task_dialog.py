"""The dialog that creates or edits a task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from PySide6.QtCore import QT_TRANSLATE_NOOP, QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.store.task_types import Task, TaskCreate, TaskUpdate

# Marked for translation here, translated where shown (a translator loaded after
# import still applies).
PRIORITIES = [
    str(QT_TRANSLATE_NOOP("TaskDialog", "None")),
    str(QT_TRANSLATE_NOOP("TaskDialog", "Low")),
    str(QT_TRANSLATE_NOOP("TaskDialog", "Medium")),
    str(QT_TRANSLATE_NOOP("TaskDialog", "High")),
]
STATUSES = [
    ("todo", str(QT_TRANSLATE_NOOP("TaskDialog", "To do"))),
    ("doing", str(QT_TRANSLATE_NOOP("TaskDialog", "Doing"))),
    ("done", str(QT_TRANSLATE_NOOP("TaskDialog", "Done"))),
    ("cancelled", str(QT_TRANSLATE_NOOP("TaskDialog", "Cancelled"))),
]


def parse_tags(text: str) -> list[str]:
    """Tags typed as ``a, b c`` -> ``["a", "b", "c"]`` (commas or spaces separate)."""
    return [t for t in text.replace(",", " ").split() if t]


class TaskDialog(QDialog):
    """Fields of a task; :meth:`create_data` / :meth:`update_data` validate them."""

    def __init__(self, task: Task | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit task") if task else self.tr("New task"))
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 65)
        self._task = task
        self.title = QLineEdit(task.title if task else "")
        self.title.setAccessibleName(self.tr("Title"))
        self.notes = QPlainTextEdit(task.notes if task else "")
        self.notes.setAccessibleName(self.tr("Notes"))
        self.notes.setTabChangesFocus(True)
        self.status = QComboBox()
        for value, label in STATUSES:
            self.status.addItem(self.tr(label), value)
        self.status.setCurrentIndex(max(0, self.status.findData(task.status if task else "todo")))
        self.status.setAccessibleName(self.tr("Status"))
        self.priority = QComboBox()
        self.priority.addItems([self.tr(p) for p in PRIORITIES])
        self.priority.setCurrentIndex(task.priority if task else 0)
        self.priority.setAccessibleName(self.tr("Priority"))
        self.has_due = QCheckBox(self.tr("Due"))
        self.has_due.setAccessibleName(self.tr("Has a due date"))
        self.due = QDateTimeEdit()
        self.due.setCalendarPopup(True)
        self.due.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.due.setAccessibleName(self.tr("Due date"))
        due = task.due_at if task and task.due_at else datetime.now(UTC) + timedelta(days=1)
        self.due.setDateTime(QDateTime.fromSecsSinceEpoch(int(due.timestamp())))
        self.has_due.setChecked(bool(task and task.due_at))
        self.due.setEnabled(self.has_due.isChecked())
        self.has_due.toggled.connect(self.due.setEnabled)
        self.tags = QLineEdit(" ".join(task.tags) if task else "")
        self.tags.setPlaceholderText(self.tr("space- or comma-separated"))
        self.tags.setAccessibleName(self.tr("Tags"))
        self.error = ErrorLabel()

        due_row = QHBoxLayout()
        due_row.addWidget(self.has_due)
        due_row.addWidget(self.due, 1)
        form = QFormLayout(self)
        form.addRow(self.tr("&Title:"), self.title)
        form.addRow(self.tr("&Notes:"), self.notes)
        form.addRow(self.tr("&Status:"), self.status)
        form.addRow(self.tr("&Priority:"), self.priority)
        form.addRow(due_row)
        form.addRow(self.tr("T&ags:"), self.tags)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.title.setFocus(Qt.FocusReason.OtherFocusReason)

    def _due_at(self) -> datetime | None:
        if not self.has_due.isChecked():
            return None
        return datetime.fromtimestamp(self.due.dateTime().toSecsSinceEpoch(), UTC)

    def _fields(self) -> dict[str, object]:
        return {
            "title": self.title.text(),
            "notes": self.notes.toPlainText(),
            "status": self.status.currentData(),
            "priority": self.priority.currentIndex(),
            "due_at": self._due_at(),
            "tags": parse_tags(self.tags.text()),
        }

    def create_data(self) -> TaskCreate:
        """The new task (raises ValidationError when a field is wrong)."""
        return TaskCreate.model_validate(self._fields())

    def update_data(self) -> TaskUpdate:
        """Every field as a change (a cleared due date clears it)."""
        return TaskUpdate.model_validate(self._fields())

    def _accept_if_valid(self) -> None:
        try:
            self.create_data()
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            self.error.show_error(f"{field.capitalize()}: {first['msg']}")
            return
        self.accept()
