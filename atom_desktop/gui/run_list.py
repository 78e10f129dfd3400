"""A list of runs (Home's lists, the Console's history): one row each, opened by Enter.

Each row is the run's status as a chip, its command (elided in the middle, so
the end of a long path still shows) and, right-aligned, its exit code and
when it started ("3 min ago"; the exact time is in the tooltip).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from atom_desktop.core.statuses import RUN_ACTIVE, RunStatus
from atom_desktop.gui.relative_time import absolute_time, relative_time
from atom_desktop.gui.run_labels import run_command_text
from atom_desktop.gui.status_chip import STATUS_ROLE, chip_size, paint_chip, status_text
from atom_desktop.gui.style import Spacing, current_theme

if TYPE_CHECKING:
    from atom_desktop.store.runs import RunRecord

#: Item data roles of a row: the run's id, the command, and the right-hand note.
RUN_ID_ROLE: Final = Qt.ItemDataRole.UserRole
COMMAND_ROLE: Final = Qt.ItemDataRole.UserRole + 41
NOTE_ROLE: Final = Qt.ItemDataRole.UserRole + 42

# Chips share one width (the widest run status), so the commands line up.
_CHIP_WORDS: Final = ("running", "succeeded", "cancelled", "interrupted", "timed_out", "queued")


def run_note(record: RunRecord, now: datetime | None = None) -> str:
    """The right-hand note of a row: exit code or signal, and when it started."""
    when = record.started_at or record.created_at
    parts = []
    # "Succeeded" says exit 0 already; any other ending says how.
    if record.status not in RUN_ACTIVE and record.status != RunStatus.SUCCEEDED:
        if record.exit_code is not None:
            parts.append(
                QCoreApplication.translate("RunList", "exit %1").replace(
                    "%1", str(record.exit_code)
                )
            )
        elif record.signal is not None:
            parts.append(
                QCoreApplication.translate("RunList", "signal %1").replace("%1", str(record.signal))
            )
    parts.append(relative_time(when, now))
    return " · ".join(p for p in parts if p)


class RunRowDelegate(QStyledItemDelegate):
    """Paints a run row: chip, command elided in the middle, the note on the right."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        """Draw the row."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect: QRect = option.rect.adjusted(Spacing.S, 0, -Spacing.S, 0)
        metrics = QFontMetrics(option.font)
        chip_width = _chip_width(metrics)
        dark = current_theme(widget).dark if widget is not None else current_theme().dark
        painter.save()
        painter.setFont(option.font)
        status = str(index.data(STATUS_ROLE) or "")
        if status:
            chip_rect = QRect(rect.left(), rect.top(), chip_width, rect.height())
            paint_chip(painter, chip_rect, status, dark=dark)
        note = str(index.data(NOTE_ROLE) or "")
        note_width = metrics.horizontalAdvance(note)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        text_colour = palette.color(
            palette.ColorRole.HighlightedText if selected else palette.ColorRole.Text
        )
        muted = text_colour if selected else QColor(current_theme(widget).colours.muted)
        painter.setPen(muted)
        painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, note)
        left = rect.left() + chip_width + Spacing.S
        room = rect.right() - note_width - Spacing.M - left
        command = " ".join(str(index.data(COMMAND_ROLE) or "").split())
        painter.setPen(text_colour)
        painter.drawText(
            QRect(left, rect.top(), max(room, 0), rect.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(command, Qt.TextElideMode.ElideMiddle, max(room, 0)),
        )
        painter.restore()

    def sizeHint(  # noqa: N802 - Qt's name
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """One line, tall enough for the chip with a little air."""
        metrics = QFontMetrics(option.font)
        chip = chip_size(metrics, "X")
        return QSize(_chip_width(metrics) + 12 * Spacing.S, chip.height() + Spacing.S)


def _chip_width(metrics: QFontMetrics) -> int:
    return max(chip_size(metrics, status_text(s)).width() for s in _CHIP_WORDS)


class RunList(QListWidget):
    """Runs as chip · command · note rows; activating one emits ``run_chosen``."""

    run_chosen = Signal(str, str)  # run id, the command

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformItemSizes(True)
        self.setItemDelegate(RunRowDelegate(self))
        self.itemActivated.connect(self._choose)

    def show_runs(self, records: list[RunRecord], now: datetime | None = None) -> None:
        """Replace the list with ``records``."""
        self.clear()
        for record in records:
            command = run_command_text(record)
            note = run_note(record, now)
            item = QListWidgetItem(command)
            item.setData(RUN_ID_ROLE, record.id)
            item.setData(STATUS_ROLE, str(record.status))
            item.setData(COMMAND_ROLE, command)
            item.setData(NOTE_ROLE, note)
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole,
                f"{status_text(str(record.status))}: {command}, {note}",
            )
            when = absolute_time(record.started_at or record.created_at)
            item.setToolTip(f"{command}\n{status_text(str(record.status))} · {when}")
            self.addItem(item)

    def command_of(self, item: QListWidgetItem) -> str:
        """The command of a row, in full."""
        return str(item.data(COMMAND_ROLE))

    def _choose(self, item: QListWidgetItem) -> None:
        self.run_chosen.emit(str(item.data(RUN_ID_ROLE)), self.command_of(item))
