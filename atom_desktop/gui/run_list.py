"""A list of runs (Home's lists, the Console's history): one line each, opened by Enter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from atom_desktop.gui.run_labels import run_command_text, run_summary

if TYPE_CHECKING:
    from atom_desktop.store.runs import RunRecord


class RunList(QListWidget):
    """Runs as ``status · command`` lines; activating one emits ``run_chosen``."""

    run_chosen = Signal(str, str)  # run id, the command

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.itemActivated.connect(self._choose)

    def show_runs(self, records: list[RunRecord]) -> None:
        """Replace the list with ``records``."""
        self.clear()
        for record in records:
            item = QListWidgetItem(run_summary(record))
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(run_command_text(record))
            self.addItem(item)

    def _choose(self, item: QListWidgetItem) -> None:
        self.run_chosen.emit(str(item.data(Qt.ItemDataRole.UserRole)), item.toolTip())
