"""``tasks add --due``: what each way of writing a date means, in a real time zone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from atom_desktop.client.due_dates import DueDateError, parse_due


@pytest.fixture
def paris() -> Iterator[None]:
    """The process's local time zone is Europe/Paris (CET in winter, CEST in summer)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


# Wednesday 2026-01-14, 10:30 in Paris (winter time).
NOW = datetime(2026, 1, 14, 10, 30, tzinfo=timezone(timedelta(hours=1)))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.usefixtures("paris")
@pytest.mark.parametrize(
    ("text", "meant"),
    [
        # A time without an offset is Paris time, with the offset of that date.
        ("2026-12-10T09:00", utc(2026, 12, 10, 8, 0)),
        ("2026-07-01T09:00", utc(2026, 7, 1, 7, 0)),
        ("2026-12-10 09:00", utc(2026, 12, 10, 8, 0)),
        # A date alone: due by the end of that day.
        ("2026-12-10", utc(2026, 12, 10, 22, 59)),
        ("2026-07-01", utc(2026, 7, 1, 21, 59)),
        # An offset given is kept.
        ("2026-12-10T09:00+05:30", utc(2026, 12, 10, 3, 30)),
        ("2026-12-10T09:00Z", utc(2026, 12, 10, 9, 0)),
        # Words count from NOW, a Wednesday.
        ("today", utc(2026, 1, 14, 22, 59)),
        ("Tomorrow", utc(2026, 1, 15, 22, 59)),
        ("tomorrow 9:00", utc(2026, 1, 15, 8, 0)),
        ("friday", utc(2026, 1, 16, 22, 59)),
        ("fri 17:30", utc(2026, 1, 16, 16, 30)),
        ("wednesday", utc(2026, 1, 14, 22, 59)),  # today is Wednesday
        ("tue", utc(2026, 1, 20, 22, 59)),
        ("+3d", utc(2026, 1, 17, 22, 59)),
        ("+2w", utc(2026, 1, 28, 22, 59)),
        ("+4h", utc(2026, 1, 14, 13, 30)),
        # Across the change to summer time (29 March), the summer offset applies.
        ("+11w", utc(2026, 4, 1, 21, 59)),
    ],
)
def test_each_form_means_a_moment_in_the_local_zone(text: str, meant: datetime) -> None:
    due = parse_due(text, now=NOW)
    assert due.tzinfo is not None
    assert due == meant


@pytest.mark.parametrize("text", ["", "soon", "fr", "+3y", "tomorrow 25:00", "2026-13-01", "+h"])
def test_what_names_no_date_is_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(DueDateError) as refused:
        parse_due(text, now=NOW)
    assert "tomorrow 09:00" in str(refused.value)
    assert "23:59" in str(refused.value)


def test_without_a_given_now_the_clock_is_read() -> None:
    before = datetime.now(UTC)
    due = parse_due("+1h")
    after = datetime.now(UTC)
    assert before + timedelta(hours=1) <= due <= after + timedelta(hours=1)
