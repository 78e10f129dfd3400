"""Times as people say them ("3 min ago"), with the exact time for a tooltip.

Usage::

    item.setText(2, relative_time(run.started_at))
    item.setToolTip(2, absolute_time(run.started_at))
    set_time_cell(item, 2, run.started_at)        # both at once

Times are stored in UTC; both texts are shown in local time. ``now`` can be
passed so a list formats every row against the same instant (and tests are
exact).
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QTreeWidgetItem


def _tr(text: str) -> str:
    return QCoreApplication.translate("time", text)


def _aware(when: datetime) -> datetime:
    # The store hands out naive UTC times in places; they are UTC all the same.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def relative_time(when: datetime | None, now: datetime | None = None) -> str:
    """``when`` relative to ``now``: "just now", "5 min ago", "in 2 h", "yesterday", a date.

    ``None`` (never happened) is an empty string.
    """
    if when is None:
        return ""
    when = _aware(when)
    now = _aware(now) if now is not None else datetime.now(UTC)
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return _tr("in a moment") if future else _tr("just now")
    minutes = round(seconds / 60)
    if minutes < 60:
        text = _tr("%n min").replace("%n", str(max(minutes, 1)))
    elif seconds < 24 * 3600:
        text = _tr("%n h").replace("%n", str(round(seconds / 3600)))
    else:
        days = (now.astimezone().date() - when.astimezone().date()).days
        if days == 1:
            return _tr("yesterday")
        if days == -1:
            return _tr("tomorrow")
        if abs(days) < 7:
            text = _tr("%n days").replace("%n", str(abs(days)))
        else:
            local = when.astimezone()
            same_year = local.year == now.astimezone().year
            return local.strftime("%d %b" if same_year else "%d %b %Y").lstrip("0")
    return _tr("in %1").replace("%1", text) if future else _tr("%1 ago").replace("%1", text)


def absolute_time(when: datetime | None) -> str:
    """``when`` in local time to the second, with its UTC offset (for tooltips)."""
    if when is None:
        return ""
    return _aware(when).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def set_time_cell(
    item: QTreeWidgetItem, column: int, when: datetime | None, now: datetime | None = None
) -> None:
    """Put ``when`` in ``item``'s ``column``: relative as text, absolute as tooltip."""
    item.setText(column, relative_time(when, now))
    item.setToolTip(column, absolute_time(when))
