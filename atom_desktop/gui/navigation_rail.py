"""The main window's navigation rail: a list of pages as wide as its longest label.

Its width comes from the font: the widest label, the icon and the style's
margins, so a larger system font (or a longer translation) widens the rail
instead of cutting its labels. It fits itself again when rows are added and
when its font or style changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from atom_desktop.gui.style import Spacing

#: An entry's least height in pixels: a comfortable target at the default font.
MIN_ROW_HEIGHT = 38


class NavigationRail(QListWidget):
    """A frameless list of pages whose width and row height follow its font."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(20, 20))
        self.setFrameShape(QListWidget.Shape.NoFrame)
        self.setSpacing(2)
        self.fit()

    def row_size(self) -> QSize:
        """The size every entry gets: room for the widest label beside its icon."""
        metrics = self.fontMetrics()
        text = max((metrics.horizontalAdvance(item.text()) for item in self._items()), default=0)
        # The style puts a margin each side of the icon and of the text
        # (QCommonStyle's item layout); one more pixel each for rounding.
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 2
        width = self.iconSize().width() + text + 4 * margin + 2 * Spacing.S
        height = max(MIN_ROW_HEIGHT, metrics.height() + Spacing.L + Spacing.XS)
        return QSize(width, height)

    def fit(self) -> None:
        """Size the entries and the rail to the labels in the current font."""
        size = self.row_size()
        for item in self._items():
            item.setSizeHint(size)
        self.setFixedWidth(size.width() + 2 * self.spacing() + 2 * self.frameWidth())

    def _items(self) -> list[QListWidgetItem]:
        return [item for row in range(self.count()) if (item := self.item(row)) is not None]

    def rowsInserted(  # noqa: N802 - Qt's name
        self, parent: QModelIndex | QPersistentModelIndex, start: int, end: int
    ) -> None:
        """A new page's entry: fit again (its label may be the longest)."""
        super().rowsInserted(parent, start, end)
        self.fit()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """A new font or style measures differently: fit again."""
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.fit()
