"""Relative times read as people say them; the tooltip has the exact time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atom_desktop.gui.relative_time import absolute_time, relative_time

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=3), "3 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=5), "5 h ago"),
        (timedelta(seconds=-10), "in a moment"),
        (timedelta(minutes=-20), "in 20 min"),
        (timedelta(hours=-3), "in 3 h"),
        (timedelta(days=3, hours=1), "3 days ago"),
    ],
    ids=["seconds", "minutes", "hour-less", "hours", "soon", "future-min", "future-h", "days"],
)
def test_relative(delta: timedelta, expected: str) -> None:
    assert relative_time(NOW - delta, NOW) == expected


def test_naive_times_are_utc() -> None:
    naive = (NOW - timedelta(minutes=3)).replace(tzinfo=None)
    assert relative_time(naive, NOW) == "3 min ago"


def test_long_ago_is_a_date() -> None:
    text = relative_time(NOW - timedelta(days=40), NOW)
    assert "ago" not in text
    assert any(month in text for month in ("Oct", "Nov"))


def test_none_is_empty() -> None:
    assert relative_time(None, NOW) == ""
    assert absolute_time(None) == ""


def test_absolute_has_seconds_and_offset() -> None:
    text = absolute_time(NOW)
    local = NOW.astimezone()
    assert text.startswith(local.strftime("%Y-%m-%d %H:%M:%S"))
    assert text.endswith(local.strftime("%z"))
