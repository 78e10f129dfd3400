"""Statuses shown as coloured chips: a widget, and a delegate for item views.

One vocabulary for every page: a run's, an automation run's or a task's
status gets the same words and the same colour wherever it appears.

Usage::

    chip = StatusChip("failed")                   # a widget
    view.setItemDelegateForColumn(2, StatusChipDelegate(view))
    set_status_cell(item, 2, "timed_out")         # a QTreeWidgetItem's cell
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidgetItem,
    QWidget,
)

from atom_desktop.gui.style import Spacing, current_theme

#: The item data role holding a cell's status key (its text is the translated word).
STATUS_ROLE: Final = Qt.ItemDataRole.UserRole + 40

# Tones, light and dark: (background, text). Chosen for contrast >= 4.5:1.
_TONES: Final[dict[str, tuple[tuple[str, str], tuple[str, str]]]] = {
    "blue": (("#dde7ff", "#1d47b8"), ("#1f3461", "#b1c8ff")),
    "green": (("#d9f2e2", "#17673a"), ("#173f2a", "#93e2b2")),
    "red": (("#fde0de", "#a31d14"), ("#4d1e1b", "#ffb0a8")),
    "orange": (("#fdead0", "#8f4a06"), ("#4a3213", "#ffc886")),
    "purple": (("#efe1fd", "#6b28a8"), ("#3a2152", "#ddb7ff")),
    "grey": (("#e8ebef", "#444c59"), ("#363c46", "#c9ced8")),
}

# status key -> (tone, the word shown). The words are marked for translation here and
# translated when shown, so a translator installed after import still applies.
_STATUSES: Final[dict[str, tuple[str, object]]] = {
    "running": ("blue", QT_TRANSLATE_NOOP("status", "Running")),
    "queued": ("grey", QT_TRANSLATE_NOOP("status", "Queued")),
    "succeeded": ("green", QT_TRANSLATE_NOOP("status", "Succeeded")),
    "failed": ("red", QT_TRANSLATE_NOOP("status", "Failed")),
    "cancelled": ("grey", QT_TRANSLATE_NOOP("status", "Cancelled")),
    "timed_out": ("orange", QT_TRANSLATE_NOOP("status", "Timed out")),
    "interrupted": ("orange", QT_TRANSLATE_NOOP("status", "Interrupted")),
    "waiting_approval": ("purple", QT_TRANSLATE_NOOP("status", "Waiting for approval")),
    "skipped": ("grey", QT_TRANSLATE_NOOP("status", "Skipped")),
    # A step whose command the policy or a person refused.
    "denied": ("red", QT_TRANSLATE_NOOP("status", "Denied")),
    # An assistant plan's steps before they run (the others share the runs' words).
    "plan.proposed": ("purple", QT_TRANSLATE_NOOP("status", "Proposed")),
    "plan.approved": ("blue", QT_TRANSLATE_NOOP("status", "Approved")),
    "plan.rejected": ("grey", QT_TRANSLATE_NOOP("status", "Rejected")),
    # Tasks.
    "todo": ("grey", QT_TRANSLATE_NOOP("status", "To do")),
    "doing": ("blue", QT_TRANSLATE_NOOP("status", "Doing")),
    "done": ("green", QT_TRANSLATE_NOOP("status", "Done")),
    # Integration accounts (IntegrationService's statuses), keyed apart: their
    # "pending" and "error" mean other things than a run's would.
    "account.pending": ("blue", QT_TRANSLATE_NOOP("status", "Waiting for sign-in")),
    "account.connected": ("green", QT_TRANSLATE_NOOP("status", "Connected")),
    "account.reconnect_needed": ("red", QT_TRANSLATE_NOOP("status", "Reconnect needed")),
    "account.error": ("red", QT_TRANSLATE_NOOP("status", "Error")),
    # The health of a part of the agent (the Diagnostics page; gui/diagnostics_data.py).
    "health.ok": ("green", QT_TRANSLATE_NOOP("status", "OK")),
    "health.warning": ("orange", QT_TRANSLATE_NOOP("status", "Warning")),
    "health.problem": ("red", QT_TRANSLATE_NOOP("status", "Problem")),
    "health.off": ("grey", QT_TRANSLATE_NOOP("status", "Off")),
}

#: Every status key that has its own colour and word.
KNOWN_STATUSES: Final = tuple(_STATUSES)


def status_text(status: str) -> str:
    """The word shown for ``status`` (translated); unknown keys are shown tidied up."""
    found = _STATUSES.get(status)
    if found is None:
        return status.replace("_", " ").capitalize()
    return QCoreApplication.translate("status", str(found[1]))


def status_colours(status: str, *, dark: bool) -> tuple[QColor, QColor]:
    """The chip's (background, text) colours for ``status`` (grey when unknown)."""
    tone = _STATUSES.get(status, ("grey", ""))[0]
    background, text = _TONES[tone][1 if dark else 0]
    return QColor(background), QColor(text)


def chip_size(metrics: QFontMetrics, text: str) -> QSize:
    """The size a chip with ``text`` needs in a font with ``metrics``."""
    return QSize(metrics.horizontalAdvance(text) + 2 * Spacing.S + 2, metrics.height() + Spacing.XS)


def paint_chip(painter: QPainter, rect: QRect, status: str, *, dark: bool) -> None:
    """Draw the chip for ``status`` at the left of ``rect``, centred vertically."""
    text = status_text(status)
    metrics = painter.fontMetrics()
    size = chip_size(metrics, text).boundedTo(rect.size())
    chip = QRect(rect.left(), rect.top() + (rect.height() - size.height()) // 2, *size.toTuple())
    background, foreground = status_colours(status, dark=dark)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(background)
    radius = chip.height() / 2
    painter.drawRoundedRect(chip, radius, radius)
    painter.setPen(foreground)
    elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, chip.width() - 2 * Spacing.S)
    painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, elided)
    painter.restore()


class StatusChip(QWidget):
    """A rounded, coloured label naming a status; its accessible name is the word."""

    def __init__(self, status: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status = ""
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.set_status(status)

    @property
    def status(self) -> str:
        """The status key shown."""
        return self._status

    def text(self) -> str:
        """The word shown."""
        return status_text(self._status) if self._status else ""

    def set_status(self, status: str) -> None:
        """Show ``status`` (a key such as ``"failed"``)."""
        self._status = status
        self.setAccessibleName(
            QCoreApplication.translate("status", "Status: %1").replace("%1", self.text())
        )
        self.setToolTip(self.text())
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Just big enough for the word."""
        return chip_size(self.fontMetrics(), self.text())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """As big as the word: a chip is never cut."""
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Draw the chip."""
        del event
        if self._status:
            painter = QPainter(self)
            paint_chip(painter, self.rect(), self._status, dark=current_theme(self).dark)
            painter.end()


class StatusChipDelegate(QStyledItemDelegate):
    """Paints a view's status cells as chips.

    The cell's status key comes from :data:`STATUS_ROLE`, or else from its
    text. Selection and focus are drawn as usual behind the chip.
    """

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Draw the cell's background, then the chip."""
        status = _status_of(index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if status:
            rect = option.rect.adjusted(Spacing.XS, 1, -Spacing.XS, -1)
            painter.setFont(option.font)
            dark = option.palette.color(option.palette.ColorRole.Base).lightness() < 128
            paint_chip(painter, rect, status, dark=dark)

    def sizeHint(  # noqa: N802 - Qt's name
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """Room for the chip and its margins (column sizing measures this)."""
        base = super().sizeHint(option, index)
        status = _status_of(index)
        if not status:
            return base
        chip = chip_size(QFontMetrics(option.font), status_text(status))
        return QSize(chip.width() + 2 * Spacing.XS, max(base.height(), chip.height() + 2))


def _status_of(index: QModelIndex | QPersistentModelIndex) -> str:
    key = index.data(STATUS_ROLE)
    if key:
        return str(key)
    text = index.data(Qt.ItemDataRole.DisplayRole)
    return str(text) if text else ""


def set_status_cell(item: QTreeWidgetItem, column: int, status: str) -> None:
    """Put ``status`` in ``item``'s ``column``: the word as text, the key for the delegate."""
    item.setText(column, status_text(status))
    item.setData(column, STATUS_ROLE, status)
    item.setToolTip(column, status_text(status))
