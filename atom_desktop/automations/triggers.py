"""Schedule triggers: cron, interval and one-off date, each in an IANA time zone.

APScheduler 3 computes the fire times; this module validates what a person
or a client wrote and builds its trigger objects. One difference from cron
is papered over here: APScheduler 3 numbers weekdays from Monday = 0 while
cron has Sunday = 0 (and 7), so numeric weekdays are rewritten as names.

A cron expression that names no date that exists (31 February) is refused
when it is written, and every search for a cron's next time stops one
calendar cycle ahead, so no expression can cost more than that search.
"""

from __future__ import annotations

import os
import re
from calendar import monthrange
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, BeforeValidator, Field, Strict, WithJsonSchema

from atom_desktop.core.errors import AtomError
from atom_desktop.core.formats import OFFSET_OPTIONAL, check_timestamp_text
from atom_desktop.runner.request import STRICT

CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_FIELDS_5 = ("minute", "hour", "day", "month", "day_of_week")
CRON_FIELDS_6 = ("second", *CRON_FIELDS_5)
MAX_INTERVAL_S = 366 * 24 * 3600
# The Gregorian calendar repeats every 400 years: 146,097 days, a whole number
# of weeks. A cron that has not fired within one cycle of a moment never will.
CALENDAR_CYCLE = timedelta(days=146_097)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# A leap year (2000 is one: divisible by 400), so 29 February is a date.
_LEAP_YEAR = 2000


@cache
def zone_names() -> frozenset[str]:
    """The IANA time zones this machine knows (read once: the list does not change)."""
    return frozenset(available_timezones())


def _zone_names_schema(schema: dict[str, Any]) -> None:
    # Listed when the document is built, not when this module is imported.
    schema["enum"] = sorted(zone_names())


#: One of the names the document lists; :func:`time_zone` takes those and no
#: others (refused with a message naming the field when the schedule is built).
TimeZoneName = Annotated[
    str, Field(min_length=1, max_length=64, json_schema_extra=_zone_names_schema)
]


def _local_or_aware(value: object) -> object:
    return check_timestamp_text(value, offset=False)


#: A date-time as text; without an offset it is read in the trigger's time zone.
#: Not strict (a strict datetime takes no text from Python); the check first
#: refuses what the lenient parser would read (numbers as Unix times).
LocalTimestamp = Annotated[
    datetime,
    Strict(False),
    BeforeValidator(_local_or_aware),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": OFFSET_OPTIONAL,
            "examples": ["2025-01-31T09:00:00", "2025-01-31T09:00:00+01:00"],
        }
    ),
]
#: Five fields (minute hour day month weekday), or six with a second first, of
#: digits, names and ``* / , -``, separated by spaces. Whether each field's
#: values exist and ranges run forwards, and whether a day exists in the
#: months named, is checked when the schedule is built (:func:`build_trigger`).
CRON_SHAPE = r"^ *[0-9A-Za-z*/,-]+(?: +[0-9A-Za-z*/,-]+){4,5} *$"
_CRON_SHAPE = re.compile(CRON_SHAPE)


class TriggerError(AtomError):
    """A trigger that cannot be scheduled; the message names the field and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class CronSchedule(BaseModel):
    """``minute hour day month weekday``, or with a leading ``second`` field."""

    model_config = STRICT

    type: Literal["cron"]
    expression: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            examples=["*/5 9-17 * * 1-5"],
            # Said in words: a pattern can give the shape, not that a value
            # exists or that the schedule ever fires.
            description=(
                "Five fields (minute hour day month weekday), or six with a leading second, "
                "as the pattern shows. Each value must exist (minute 0-59, hour 0-23, day 1-31, "
                "month 1-12 or jan-dec, weekday 0-7 or sun-sat), ranges run upwards, and the "
                "schedule must fire at least once within 400 years: an expression that names "
                "no real time (31 February) is refused with 422 naming this field."
            ),
            json_schema_extra={"pattern": CRON_SHAPE},
        ),
    ]
    timezone: TimeZoneName = "UTC"


class IntervalSchedule(BaseModel):
    """Every ``seconds``, from ``start`` (default: now)."""

    model_config = STRICT

    type: Literal["interval"]
    # Ten wake-ups a second at most: below that it is a busy loop, not a schedule.
    seconds: Annotated[float, Field(ge=0.1, le=MAX_INTERVAL_S)]
    start: LocalTimestamp | None = None
    timezone: TimeZoneName = "UTC"


class DateSchedule(BaseModel):
    """Once, at ``at`` (a time without an offset is read in ``timezone``)."""

    model_config = STRICT

    type: Literal["date"]
    at: LocalTimestamp
    timezone: TimeZoneName = "UTC"


Schedule = Annotated[CronSchedule | IntervalSchedule | DateSchedule, Field(discriminator="type")]

FileEventKind = Literal["created", "modified", "deleted", "moved"]
# One glob, as globs.py reads it: '/'-separated names, none empty, '.' or
# '..'; '**' only as a whole name; every '[' closed within its name (a ']'
# right after '[' or '[!' is a member); no '\\' and no NUL. (A range written
# backwards, '[z-a]', is refused when the automation is saved.)
_GLOB_CHAR = r"[^/\\\x00\[]"
_GLOB_CLASS = r"\[(?:[!^]|(?![!^]))(?:\]|(?!\]))[^\]/\\\x00]*\]"
_GLOB_NAME = rf"(?:\*\*|(?![^/]*\*\*)(?!\.\.?(?:/|(?![\s\S])))(?:{_GLOB_CHAR}|{_GLOB_CLASS})+)"
GLOB = rf"^{_GLOB_NAME}(?:/{_GLOB_NAME})*$"
Glob = Annotated[
    str,
    Field(
        min_length=1,
        max_length=512,
        examples=["*.pdf", "reports/**/*.csv"],
        description=(
            "A glob as the pattern shows; a character range runs upwards ([a-z], not "
            "[z-a]): one written backwards is refused with 422 naming this field."
        ),
        json_schema_extra={"pattern": GLOB},
    ),
]
#: A folder to watch: absolute, or starting with ``~`` (the user's home), no NUL
#: (globs.expand_path refuses the others when the automation is saved).
WATCHED_PATH = (
    r"^(?:[A-Za-z]:[\\/][^\x00]*|[\\/]{2}[^\x00]*|~(?:[\\/][^\x00]*)?)$"
    if os.name == "nt"
    else r"^(?:/[^\x00]*|~(?:/[^\x00]*)?)$"
)


class FileTrigger(BaseModel):
    """Changes under ``paths``, filtered by event kind and globs, batched per debounce window.

    A glob without ``/`` matches a file's name; one with ``/`` matches its
    path relative to the watched folder (``**`` spans folders).
    """

    model_config = STRICT

    type: Literal["file"]
    paths: Annotated[
        list[
            Annotated[
                str,
                Field(min_length=1, max_length=4096, json_schema_extra={"pattern": WATCHED_PATH}),
            ]
        ],
        Field(min_length=1, max_length=64),
    ]
    events: Annotated[list[FileEventKind], Field(min_length=1)] = [
        "created",
        "modified",
        "deleted",
        "moved",
    ]
    include: Annotated[list[Glob], Field(max_length=64)] = []
    exclude: Annotated[list[Glob], Field(max_length=64)] = []
    recursive: bool = True
    debounce_s: Annotated[float, Field(ge=0.05, le=3600)] | None = Field(
        default=None, description="Seconds to gather changes into one trigger (default: setting)."
    )


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a TriggerError saying how to name one."""
    try:
        # The names the document lists, and only those.
        if name not in zone_names():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TriggerError(
            "timezone", f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None


def build_trigger(schedule: CronSchedule | IntervalSchedule | DateSchedule) -> BaseTrigger:
    """The APScheduler trigger of ``schedule`` (raises TriggerError when it is wrong)."""
    zone = time_zone(schedule.timezone)
    if isinstance(schedule, CronSchedule):
        return _cron(schedule.expression, zone)
    if isinstance(schedule, IntervalSchedule):
        start = _localise(schedule.start, zone) if schedule.start else None
        return IntervalTrigger(seconds=schedule.seconds, start_date=start, timezone=zone)
    return DateTrigger(run_date=_localise(schedule.at, zone), timezone=zone)


class AnyOf(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """Every fire time of each of its schedules, in order.

    APScheduler's OrTrigger hands every child the previous fire time of
    whichever child fired last, so an interval counts from a cron's times and
    a date is forgotten after the first fire; here each child is asked only
    for its first time after the last one. A date in the past is never due.
    """

    def __init__(self, triggers: list[BaseTrigger]) -> None:
        self.triggers = triggers

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The earliest child fire time after ``previous_fire_time`` (or from ``now``)."""
        after = (
            now if previous_fire_time is None else previous_fire_time + timedelta(microseconds=1)
        )
        times = [
            upcoming
            for trigger in self.triggers
            if (upcoming := trigger.get_next_fire_time(None, after)) is not None
            and upcoming >= after
        ]
        return min(times, default=None)

    def __str__(self) -> str:
        return f"any of ({', '.join(str(t) for t in self.triggers)})"


def next_fire_times(trigger: BaseTrigger, after: datetime, count: int = 5) -> list[datetime]:
    """Up to ``count`` fire times after ``after`` (fewer when the trigger ends)."""
    times: list[datetime] = []
    previous: datetime | None = None
    now = after
    while len(times) < count:
        upcoming = trigger.get_next_fire_time(previous, now)
        if upcoming is None:
            break
        times.append(upcoming)
        previous = upcoming
        now = upcoming + timedelta(microseconds=1)
    return times


def _cron(expression: str, zone: ZoneInfo) -> CronTrigger:
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise TriggerError(
            "expression",
            f"{expression!r} has {len(parts)} fields; a cron expression has 5 "
            "(minute hour day month weekday) or 6 (second first)",
        )
    # fullmatch: the published pattern's "$" ends the text, as in the document.
    if not _CRON_SHAPE.fullmatch(expression):
        raise TriggerError(
            "expression",
            f"{expression!r}: write each field with digits, names and * / , - only, "
            "the fields separated by spaces",
        )
    names = CRON_FIELDS_5 if len(parts) == 5 else CRON_FIELDS_6
    fields = dict(zip(names, parts, strict=True))
    fields["day_of_week"] = _cron_weekdays(fields["day_of_week"])
    try:
        trigger = BoundedCronTrigger(timezone=zone, **fields)
    except ValueError as exc:
        raise TriggerError("expression", f"{expression!r} is not a valid schedule: {exc}") from None
    check_can_fire(expression, trigger)
    return trigger


class BoundedCronTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """A CronTrigger whose search for the next fire time looks one calendar cycle ahead at most.

    APScheduler moves a candidate time forward field by field until every
    field matches, giving up only in the year 9999: for a cron that matches
    no date that is up to 90,000 steps, a second of CPU, per search. Every
    cron that can fire does so within one 400-year cycle (within 40 years in
    fact: 29 February on a given weekday), so the horizon changes no answer.
    """

    __slots__ = ()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first fire time from ``now`` (or after ``previous_fire_time``), within a cycle."""
        start = now if previous_fire_time is None else min(now, previous_fire_time)
        if previous_fire_time is None and self.start_date is not None:
            start = max(start, self.start_date)
        end = self.end_date
        try:
            horizon = start + CALENDAR_CYCLE
            end = horizon if end is None else min(end, horizon)
        except OverflowError:
            pass  # near the year 9999, where APScheduler stops by itself
        # A copy carries the horizon: this trigger is shared by the scheduler
        # and the API, so its own end date must not change under them.
        search = CronTrigger.__new__(CronTrigger)
        search.timezone, search.start_date, search.end_date = self.timezone, self.start_date, end
        search.fields, search.jitter = self.fields, self.jitter
        upcoming: datetime | None = search.get_next_fire_time(previous_fire_time, now)
        return upcoming


def check_can_fire(expression: str, trigger: CronTrigger) -> None:
    """Raise TriggerError when no date has a day and month that ``trigger`` matches.

    In APScheduler's cron a time must match both the day of the month and the
    weekday (classic cron fires on either when both are restricted). Within
    the 400-year cycle every date falls on every weekday, so a weekday makes
    a schedule rarer (29 February on a Monday: every 28 to 40 years) but never
    impossible; hours, minutes and seconds always exist (a time skipped by a
    clock change fires just after it). What is left is the day: 30 or 31 in
    months that are shorter. Twelve months of a leap year answer that.
    """
    fields = {field.name: field for field in trigger.fields}
    month, day = fields["month"], fields["day"]
    months = [m for m in range(1, 13) if _matches(month, datetime(_LEAP_YEAR, m, 1), m)]
    if any(day.get_next_value(datetime(_LEAP_YEAR, m, 1)) is not None for m in months):
        return
    # January has every day, so these are the days the field names (30 and/or 31 here).
    days = [d for d in range(1, 32) if _matches(day, datetime(_LEAP_YEAR, 1, d), d)]
    names = [MONTH_NAMES[m - 1] for m in months]
    longest = max(monthrange(_LEAP_YEAR, m)[1] for m in months)
    raise TriggerError(
        "expression",
        f"{expression!r} never fires: {_either(names, 'and')} "
        f"{'has' if len(names) == 1 else 'have'} no day {_either([str(d) for d in days], 'or')} "
        f"(at most {longest} days), so no date matches; use a smaller day, or 'last' for "
        "the last day of each month",
    )


def _matches(field: Any, moment: datetime, value: int) -> bool:
    """Whether the APScheduler ``field`` accepts ``value``, the field's value at ``moment``."""
    return bool(field.get_next_value(moment) == value)


def _either(words: list[str], joint: str) -> str:
    """``a``, ``a and b``, ``a, b and c`` (or with ``or``)."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {joint} {words[-1]}"


def _cron_weekdays(field: str) -> str:
    """Cron's weekday field (0 or 7 = Sunday) in APScheduler's terms (day names)."""
    if field == "*" or not any(c.isdigit() for c in field):
        return field  # "*" and names mean the same to both
    days: list[str] = []
    for part in field.split(","):
        days.extend(_expand_weekdays(part))
    # De-duplicated, in cron's order; APScheduler takes a list of names.
    return ",".join(dict.fromkeys(days))


def _expand_weekdays(part: str) -> list[str]:
    span, _, step_text = part.partition("/")
    try:
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = int(low), int(high)
        else:
            first = last = int(span)
            if step_text:
                last = 6  # "1/2": from Monday, every second day
    except ValueError:
        raise TriggerError(
            "expression", f"weekday {part!r}: use numbers 0-7 (0 and 7 are Sunday) or names"
        ) from None
    if not (0 <= first <= 7 and 0 <= last <= 7 and first <= last and step >= 1):
        raise TriggerError("expression", f"weekday {part!r} is out of range (0-7, low-high)")
    return [CRON_DAYS[day] for day in range(first, last + 1, step)]


def _localise(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
