"""``tasks add --due``: a due date as people write it, in their own time zone.

Accepted, in any case:

- an ISO 8601 date-time, with or without its offset: ``2026-12-10T09:00``,
  ``2026-12-10 09:00``, ``2026-12-10T09:00+01:00``, ``...Z``;
- a date alone: ``2026-12-10``;
- ``today``, ``tomorrow``, a weekday (``friday`` or ``fri``: the coming one,
  today if today is that day), ``+3d`` or ``+2w`` (days or weeks from today);
- any of those days followed by a time: ``tomorrow 09:00``, ``fri 17:30``;
- ``+4h``: four hours from now.

A day without a time means the end of that day, 23:59: the task is due by
then. A time without an offset is this computer's local time, with the
daylight-saving rule in force on that date (not today's offset): the C
library's time-zone rules, the same ones ``date`` and ``ls -l`` use, turn it
into an instant (``datetime.astimezone`` on a naive time), and ``TZ`` is
honoured as everywhere else.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

#: The time of day a date without one stands for: due by the end of that day.
END_OF_DAY = time(23, 59)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# "+3d", "+2w", "+4h": a count and its unit.
_RELATIVE = re.compile(r"\+(\d{1,4})([dwh])")

EXAMPLES = (
    "2026-12-10 (due by the end of that day, 23:59), 2026-12-10T09:00, today, tomorrow, "
    "friday, +3d, +2w, +4h, or a day and a time such as 'tomorrow 09:00'"
)


class DueDateError(ValueError):
    """The text names no date this module understands."""


def parse_due(text: str, now: datetime | None = None) -> datetime:
    """The moment ``text`` means, with its UTC offset (see the module).

    ``now`` is the current local time (the clock's, when None); relative
    words count from it. Raises :class:`DueDateError` with the forms that
    are understood.
    """
    now = now or datetime.now().astimezone()
    cleaned = " ".join(text.split())
    moment = _iso(cleaned) or _spoken(cleaned.lower(), now)
    if moment is None:
        raise DueDateError(f"{text!r} is not a date this understands. Write {EXAMPLES}.")
    return moment


def local(moment: datetime) -> datetime:
    """``moment`` given its offset: a naive one is this computer's local time on that date."""
    # astimezone() on a naive time asks the C library for the offset in force
    # at that moment, so a summer date gets summer time even in winter.
    return moment if moment.tzinfo is not None else moment.astimezone()


def _iso(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), END_OF_DAY).astimezone()
    except ValueError:
        pass
    try:
        return local(datetime.fromisoformat(text))
    except ValueError:
        return None


def _spoken(text: str, now: datetime) -> datetime | None:
    words = text.split(" ")
    if len(words) == 1 and (match := _RELATIVE.fullmatch(words[0])) and match[2] == "h":
        return now + timedelta(hours=int(match[1]))
    if not 1 <= len(words) <= 2:  # a day, then perhaps a time
        return None
    day = _day(words[0], now.date())
    clock = _clock(words[1]) if len(words) == 2 else END_OF_DAY
    if day is None or clock is None:
        return None
    return local(datetime.combine(day, clock))


def _day(word: str, today: date) -> date | None:
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if (match := _RELATIVE.fullmatch(word)) and match[2] != "h":
        return today + timedelta(days=int(match[1]) * (7 if match[2] == "w" else 1))
    for number, name in enumerate(WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):  # "fri", "frid", "friday"
            return today + timedelta(days=(number - today.weekday()) % 7)
    return None


def _clock(word: str) -> time | None:
    # time.fromisoformat wants two digits for the hour; people write 9:00 too.
    try:
        clock = time.fromisoformat(f"0{word}" if word[1:2] == ":" else word)
    except ValueError:
        return None
    return None if clock.tzinfo is not None else clock
