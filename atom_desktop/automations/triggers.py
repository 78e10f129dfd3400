"""Schedule triggers: cron, interval and one-off date, each in an IANA time zone.

APScheduler 3 computes the fire times; this module validates what a person
or a client wrote and builds its trigger objects. One difference from cron
is papered over here: APScheduler 3 numbers weekdays from Monday = 0 while
cron has Sunday = 0 (and 7), so numeric weekdays are rewritten as names.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field

from atom_desktop.core.errors import AtomError

CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_FIELDS_5 = ("minute", "hour", "day", "month", "day_of_week")
CRON_FIELDS_6 = ("second", *CRON_FIELDS_5)
MAX_INTERVAL_S = 366 * 24 * 3600
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Berlin"])]


class TriggerError(AtomError):
    """A trigger that cannot be scheduled; the message names the field and the fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class CronSchedule(BaseModel):
    """``minute hour day month weekday``, or with a leading ``second`` field."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["cron"]
    expression: Annotated[str, Field(min_length=1, max_length=200, examples=["*/5 9-17 * * 1-5"])]
    timezone: TimeZoneName = "UTC"


class IntervalSchedule(BaseModel):
    """Every ``seconds``, from ``start`` (default: now)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["interval"]
    # Ten wake-ups a second at most: below that it is a busy loop, not a schedule.
    seconds: Annotated[float, Field(ge=0.1, le=MAX_INTERVAL_S)]
    start: datetime | None = None
    timezone: TimeZoneName = "UTC"


class DateSchedule(BaseModel):
    """Once, at ``at`` (a time without an offset is read in ``timezone``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["date"]
    at: datetime
    timezone: TimeZoneName = "UTC"


Schedule = Annotated[CronSchedule | IntervalSchedule | DateSchedule, Field(discriminator="type")]

FileEventKind = Literal["created", "modified", "deleted", "moved"]
Glob = Annotated[str, Field(min_length=1, max_length=512, examples=["*.pdf", "reports/**/*.csv"])]


class FileTrigger(BaseModel):
    """Changes under ``paths``, filtered by event kind and globs, batched per debounce window.

    A glob without ``/`` matches a file's name; one with ``/`` matches its
    path relative to the watched folder (``**`` spans folders).
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["file"]
    paths: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=4096)]],
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
    names = CRON_FIELDS_5 if len(parts) == 5 else CRON_FIELDS_6
    fields = dict(zip(names, parts, strict=True))
    fields["day_of_week"] = _cron_weekdays(fields["day_of_week"])
    try:
        return CronTrigger(timezone=zone, **fields)
    except ValueError as exc:
        raise TriggerError("expression", f"{expression!r} is not a valid schedule: {exc}") from None


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
