"""What a list says when it has nothing to show: what will appear, and how to make it appear.

Usage::

    empty = EmptyState(
        self.tr("No tasks yet"),
        self.tr("Tasks you add here or through the API are listed with their due dates."),
        action=self.tr("Add a task"),
    )
    empty.action_requested.connect(self.add_task)
    self.stack = EmptyStateStack(self.tree, empty)   # put the stack where the tree was
    self.stack.follow(self.tree.model())             # shows whichever fits, by itself

``EmptyStateStack.set_empty(flag)`` switches by hand where "empty" means more
than no rows.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from atom_desktop.gui.style import Spacing, heading, muted


class EmptyState(QWidget):
    """A title, a sentence, and (optionally) the action that fills the list, centred."""

    action_requested = Signal()

    def __init__(
        self,
        title: str,
        text: str,
        *,
        action: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Spacing.XL, Spacing.XL, Spacing.XL, Spacing.XL)
        layout.setSpacing(Spacing.S)
        layout.addStretch(1)
        self.title = heading(title, level=2)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.text = muted(QLabel(text))
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setAccessibleName(text)
        layout.addWidget(self.text)
        self.button: QPushButton | None = None
        if action is not None:
            self.button = QPushButton(action)
            self.button.setAccessibleName(action)
            self.button.clicked.connect(self.action_requested)
            row = QVBoxLayout()
            row.setContentsMargins(0, Spacing.S, 0, 0)
            row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
            layout.addLayout(row)
        layout.addStretch(2)


class EmptyStateStack(QStackedWidget):
    """Shows ``content`` (a list or table) or, while it has nothing, ``empty``."""

    def __init__(self, content: QWidget, empty: EmptyState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.empty = empty
        self.addWidget(content)
        self.addWidget(empty)
        self._model: QAbstractItemModel | None = None

    @property
    def showing_empty(self) -> bool:
        """Whether the empty state is what shows."""
        return self.currentWidget() is self.empty

    def set_empty(self, empty: bool) -> None:
        """Show the empty state (``True``) or the content."""
        self.setCurrentWidget(self.empty if empty else self.content)

    def follow(self, model: QAbstractItemModel) -> None:
        """Switch by itself as ``model`` gains or loses its rows."""
        self._model = model
        for signal in (
            model.rowsInserted,
            model.rowsRemoved,
            model.modelReset,
            model.layoutChanged,
        ):
            signal.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        if self._model is not None:
            self.set_empty(self._model.rowCount() == 0)
