"""Numbers in lists and tables: right-aligned, so digits line up, and grouped.

Usage::

    set_number_cell(item, 3, run.stdout_bytes, as_bytes=True)   # "1.4 MB", right-aligned
    set_number_cell(item, 4, exit_code)                         # "137"
    header_item.setTextAlignment(4, NUMBER_ALIGNMENT)           # the header too
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QCoreApplication, QLocale, Qt
from PySide6.QtWidgets import QTreeWidgetItem

#: How a number cell (and its header) is aligned.
NUMBER_ALIGNMENT: Final = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

_UNITS: Final = ("B", "KB", "MB", "GB", "TB")


def format_number(value: int | float) -> str:
    """``value`` with the locale's digit grouping (``12,345``)."""
    locale = QLocale()
    if isinstance(value, int):
        return locale.toString(value)
    return locale.toString(value, "f", 1)


def format_bytes(count: int) -> str:
    """A byte count in the largest unit that keeps it >= 1 (decimal units: 1 KB = 1000 B)."""
    size = float(count)
    for unit in _UNITS:
        if abs(size) < 1000 or unit == _UNITS[-1]:
            if unit == "B":
                return QCoreApplication.translate("number", "%1 B").replace(
                    "%1", format_number(count)
                )
            return f"{QLocale().toString(size, 'f', 1)} {unit}"
        size /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def set_number_cell(
    item: QTreeWidgetItem, column: int, value: int | float | None, *, as_bytes: bool = False
) -> None:
    """Put ``value`` right-aligned in ``item``'s ``column`` (empty for ``None``)."""
    if value is None:
        item.setText(column, "")
    elif as_bytes:
        item.setText(column, format_bytes(int(value)))
    else:
        item.setText(column, format_number(value))
    item.setTextAlignment(column, NUMBER_ALIGNMENT)
