"""Schedule triggers: what a person writes becomes the right fire times, or a clear error."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from atom_desktop.automations.triggers import (
    Schedule,
    TriggerError,
    build_trigger,
    next_fire_times,
)

SCHEDULE = TypeAdapter(Schedule)
# A Wednesday.
NOW = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)


def times(spec: dict[str, object], count: int = 5, after: datetime = NOW) -> list[datetime]:
    return next_fire_times(build_trigger(SCHEDULE.validate_python(spec)), after, count)


def test_five_field_cron_in_utc() -> None:
    got = times({"type": "cron", "expression": "*/15 * * * *"})
    assert [t.astimezone(UTC).strftime("%H:%M") for t in got] == [
        "10:15",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
    ]


def test_six_field_cron_has_seconds_first() -> None:
    got = times({"type": "cron", "expression": "*/20 * * * * *"}, count=3)
    assert [t.astimezone(UTC).strftime("%M:%S") for t in got] == ["07:40", "08:00", "08:20"]


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("1", {"Mon"}),
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0,6", {"Sun", "Sat"}),
        ("5-7", {"Fri", "Sat", "Sun"}),
        ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
        ("sat,sun", {"Sat", "Sun"}),
    ],
)
def test_weekdays_mean_what_they_mean_in_cron(weekday: str, expected: set[str]) -> None:
    got = times({"type": "cron", "expression": f"0 9 * * {weekday}"}, count=14)
    assert {t.strftime("%a") for t in got} == expected


def test_cron_runs_on_the_wall_clock_of_its_time_zone_across_dst() -> None:
    # Berlin leaves summer time early on 2026-10-25: 09:00 local is 07:00 UTC on the
    # 24th and 08:00 UTC from the 25th on.
    after = datetime(2026, 10, 23, 12, 0, tzinfo=UTC)
    got = times({"type": "cron", "expression": "0 9 * * *", "timezone": "Europe/Berlin"}, 4, after)
    assert [t.astimezone(ZoneInfo("Europe/Berlin")).hour for t in got] == [9, 9, 9, 9]
    assert [t.astimezone(UTC).hour for t in got] == [7, 8, 8, 8]


def test_interval_counts_from_its_start() -> None:
    start = datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)
    got = times({"type": "interval", "seconds": 2, "start": start.isoformat()}, count=3)
    # 10:00:01 + k * 2 s: the first at or after 10:07:30 is 10:07:31.
    assert [t.astimezone(UTC).strftime("%H:%M:%S") for t in got] == [
        "10:07:31",
        "10:07:33",
        "10:07:35",
    ]


def test_a_date_fires_once_in_its_time_zone() -> None:
    got = times({"type": "date", "at": "2026-12-24T18:00:00", "timezone": "America/New_York"})
    assert got == [datetime(2026, 12, 24, 23, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"type": "cron", "expression": "* * * *"}, "expression", "has 4 fields"),
        ({"type": "cron", "expression": "61 * * * *"}, "expression", "not a valid schedule"),
        ({"type": "cron", "expression": "0 9 * * 8"}, "expression", "out of range"),
        ({"type": "cron", "expression": "0 9 * * 1-x"}, "expression", "weekday"),
        (
            {"type": "cron", "expression": "0 9 * * *", "timezone": "Mars/Olympus"},
            "timezone",
            "IANA",
        ),
    ],
)
def test_bad_schedules_say_what_is_wrong(spec: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(TriggerError) as info:
        build_trigger(SCHEDULE.validate_python(spec))
    assert info.value.field == field
    assert words in str(info.value)
