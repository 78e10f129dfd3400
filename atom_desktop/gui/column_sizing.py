"""Table columns sized to their content, the elastic one taking what is left.

A column is never cut while the view has free space: every column but one is
as wide as its widest cell (and its header), and one elastic column (the
last, unless told otherwise: put the command or path there, with
:class:`~atom_desktop.gui.elide_delegate.MiddleElideDelegate`) stretches over
the rest and elides when the view is too narrow for all of it.

Usage::

    fit_columns(tree)                 # the last column stretches
    fit_columns(tree, elastic=1)      # column 1 (the command) stretches
    assert not cut_columns(tree)      # what the tests check
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTreeView,
)

from atom_desktop.gui.style import Spacing


def header_of(view: QAbstractItemView) -> QHeaderView:
    """The horizontal header of a tree or table view."""
    if isinstance(view, QTreeView):
        return view.header()
    if isinstance(view, QTableView):
        return view.horizontalHeader()
    raise TypeError(f"{type(view).__name__} has no column header")


class ColumnGapDelegate(QStyledItemDelegate):
    """The stock delegate with a gap after each cell, so columns sized to their
    content do not run into each other."""

    def sizeHint(  # noqa: N802 - Qt's name
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """The content's size plus the gap."""
        size = super().sizeHint(option, index)
        return QSize(size.width() + Spacing.M, size.height())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """As usual; a right-aligned cell (a number) keeps the gap on its right."""
        alignment = index.data(Qt.ItemDataRole.TextAlignmentRole)
        value = getattr(alignment, "value", alignment)
        if not isinstance(value, int) or not value & Qt.AlignmentFlag.AlignRight.value:
            super().paint(painter, option, index)
            return
        # The cell's background and selection over its whole width, then the
        # text in all but the gap.
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        widget = background.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter, widget)
        text = QStyleOptionViewItem(option)
        text.rect = option.rect.adjusted(0, 0, -Spacing.M, 0)
        super().paint(painter, text, index)


def fit_columns(view: QAbstractItemView, *, elastic: int | None = None) -> None:
    """Size ``view``'s columns to their content; ``elastic`` (default: the last) stretches.

    Stays true as rows change: the header re-measures by itself. Cells drawn by
    the stock delegate get a gap after them (columns with a delegate of their
    own keep it).
    """
    if type(view.itemDelegate()) is QStyledItemDelegate:
        view.setItemDelegate(ColumnGapDelegate(view))
    header = header_of(view)
    count = header.count()
    if count == 0:
        return
    stretch = count - 1 if elastic is None else elastic
    header.setStretchLastSection(stretch == count - 1)
    header.setMinimumSectionSize(max(header.minimumSectionSize(), 24))
    for column in range(count):
        mode = (
            QHeaderView.ResizeMode.Stretch
            if column == stretch
            else QHeaderView.ResizeMode.ResizeToContents
        )
        header.setSectionResizeMode(column, mode)


def content_width(view: QAbstractItemView, column: int) -> int:
    """How wide ``column`` must be to show its widest cell and its header uncut."""
    header = header_of(view)
    cells = view.sizeHintForColumn(column)
    if isinstance(view, QTreeView) and column == 0:
        cells += view.indentation() if view.rootIsDecorated() else 0
    return max(cells, header.sectionSizeHint(column))


def cut_columns(view: QAbstractItemView) -> list[int]:
    """The columns narrower than their content while the view still has free space.

    Measured from the view's geometry: the viewport's width against the sum
    of the columns' widths.
    """
    header = header_of(view)
    used = sum(
        header.sectionSize(c) for c in range(header.count()) if not header.isSectionHidden(c)
    )
    free = view.viewport().width() - used
    return [
        column
        for column in range(header.count())
        if not header.isSectionHidden(column)
        and header.sectionSize(column) < content_width(view, column)
        and free > 0
    ]
