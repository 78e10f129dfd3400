"""A cron that names no real date is refused; any cron's search for its next time is bounded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from atom_desktop.automations.triggers import (
    CALENDAR_CYCLE,
    BoundedCronTrigger,
    CronSchedule,
    TriggerError,
    build_trigger,
    next_fire_times,
)

# A Wednesday.
NOW = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)


def cron(expression: str) -> Any:
    return build_trigger(CronSchedule(type="cron", expression=expression))


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 0 30 2 *", "February has no day 30 (at most 29 days)"),
        ("0 0 31 2 *", "February has no day 31"),
        ("0 0 30,31 feb *", "February has no day 30 or 31"),
        ("0 0 30-31 2 1-5", "February has no day 30 or 31"),
        ("0 0 31 4 *", "April has no day 31 (at most 30 days)"),
        (
            "0 0 31 2,4,6,9,11 *",
            "February, April, June, September and November have no day 31",
        ),
        ("0 0 31 4,6 sun", "April and June have no day 31"),
        ("0 0 0 31 11 *", "November has no day 31"),  # six fields: seconds first
    ],
)
def test_a_cron_that_names_no_real_date_is_refused_saying_why(expression: str, words: str) -> None:
    with pytest.raises(TriggerError) as info:
        cron(expression)
    assert info.value.field == "expression"
    message = str(info.value)
    assert f"{expression!r} never fires" in message and words in message, message


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 0 29 2 *", date(2028, 2, 29)),  # leap day: every four years
        ("0 0 29 2 1", date(2044, 2, 29)),  # a leap day that is a Monday
        ("0 0 29 2 0", date(2032, 2, 29)),  # ... or a Sunday
        ("0 0 29-31 2 *", date(2028, 2, 29)),  # 30 and 31 never come, 29 does
        ("0 0 31 2,3 *", date(2027, 3, 31)),  # February never, March does
        ("0 0 31 */2 *", date(2027, 1, 31)),  # odd months, November has 30 days
        ("0 0 30 2,4 *", date(2027, 4, 30)),
        ("0 0 30-31 4,6,9,11 6", date(2028, 9, 30)),
        ("0 0 13 * 5", date(2027, 8, 13)),  # day and weekday must both match
        ("0 0 last 2 *", date(2027, 2, 28)),
    ],
)
def test_a_rare_cron_is_accepted_and_fires_on_the_right_day(expression: str, first: date) -> None:
    got = next_fire_times(cron(expression), NOW, count=2)
    assert [t.date() for t in got][:1] == [first]
    assert len(got) == 2  # and it goes on firing


def test_every_date_falls_on_every_weekday_within_one_calendar_cycle() -> None:
    # What the check relies on to ignore the weekday: it can make a cron
    # rarer, never impossible. Counted over the 400 years the calendar repeats in.
    weekdays: dict[tuple[int, int], set[int]] = {}
    for day in _days(date(2000, 1, 1), CALENDAR_CYCLE.days):
        weekdays.setdefault((day.month, day.day), set()).add(day.weekday())
    assert len(weekdays) == 366
    assert all(len(found) == 7 for found in weekdays.values())
    assert CALENDAR_CYCLE.days % 7 == 0


def test_every_cron_the_agent_builds_has_a_bounded_search() -> None:
    assert isinstance(cron("*/5 9-17 * * 1-5"), BoundedCronTrigger)
    assert isinstance(cron("0 0 0 29 2 *"), BoundedCronTrigger)


class MoveCounter:
    """Counts the times APScheduler's search moves its candidate time (its unit of work)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moves = 0
        for name in ("_increment_field_value", "_set_field_value"):
            monkeypatch.setattr(CronTrigger, name, self._counted(getattr(CronTrigger, name)))

    def _counted(self, method: Any) -> Any:
        def counted(trigger: CronTrigger, *args: Any) -> Any:
            self.moves += 1
            return method(trigger, *args)

        return counted


# Per year of the cycle a search moves at most twice per month (to the
# month, then past it) and once to the next year.
MAX_MOVES = 25 * 401


@pytest.mark.parametrize(
    "fields",
    [
        {"day": "30", "month": "2"},
        {"day": "31", "month": "2,4,6,9,11", "hour": "*", "minute": "*", "second": "*"},
        {"day": "30-31", "month": "2", "day_of_week": "mon"},
    ],
)
def test_a_search_for_a_time_that_never_comes_stops_after_one_calendar_cycle(
    monkeypatch: pytest.MonkeyPatch, fields: dict[str, str]
) -> None:
    counter = MoveCounter(monkeypatch)
    # Fields that validation refuses, built past it: the horizon is the second line.
    trigger = BoundedCronTrigger(timezone=UTC, **fields)
    assert trigger.get_next_fire_time(None, NOW) is None
    assert 0 < counter.moves <= MAX_MOVES


def test_without_the_horizon_the_same_search_goes_far_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # APScheduler alone searches on to the year 9999: the bound is a real limit.
    counter = MoveCounter(monkeypatch)
    assert CronTrigger(day="30", month="2", timezone=UTC).get_next_fire_time(None, NOW) is None
    assert counter.moves > 2 * MAX_MOVES


def test_the_horizon_changes_no_answer_for_the_rarest_cron(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counter = MoveCounter(monkeypatch)
    # 29 February on a Monday: the longest gap any accepted cron has (40 years).
    got = next_fire_times(cron("0 0 29 2 1"), datetime(2073, 1, 1, tzinfo=UTC), count=3)
    assert [t.year for t in got] == [2112, 2140, 2168]
    assert counter.moves <= 3 * MAX_MOVES


def test_a_search_from_near_the_last_representable_year_still_ends() -> None:
    trigger = cron("0 0 29 2 *")
    late = datetime(9998, 1, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, late) is None  # no leap day left before 10000
    assert next_fire_times(trigger, late - timedelta(days=366 * 4), 1)[0].year == 9996


def _days(first: date, count: int) -> Iterator[date]:
    for offset in range(count):
        yield first + timedelta(days=offset)
