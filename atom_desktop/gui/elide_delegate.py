"""Cells that elide in the middle: a long path or command keeps its start and its end.

``/home/ann/projects/atom/…/build/output.log`` says more than
``/home/ann/projects/atom/desk…``. Usage::

    view.setItemDelegateForColumn(1, MiddleElideDelegate(view))

The full text stays in the model; give the item a tooltip with it.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from atom_desktop.gui.column_sizing import ColumnGapDelegate


class MiddleElideDelegate(ColumnGapDelegate):
    """Draws its cells' text elided in the middle (``start…end``) when it does not fit."""

    def initStyleOption(  # noqa: N802 - Qt's name
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        """As usual, with middle elision."""
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle
