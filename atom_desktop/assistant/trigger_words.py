"""When an automation should run, as English requests say it.

- "every weekday|day|weekend|monday..sunday at TIME" (weekdays may be listed:
  "every monday and thursday at 9"), "daily at TIME" -> a cron schedule in the
  person's time zone (APScheduler keeps it at that wall-clock time across
  clock changes);
- "every N minutes|hours", "every minute|hour|half hour", "hourly" -> an interval;
- "when a file in DIR changes", "when DIR changes", "when a file is created in
  DIR" -> a file trigger. DIR must be absolute or start with ``~``; the ``~`` is
  kept as written (the automation service expands it when it watches, and a
  synced automation then means the home folder on every device). A relative
  folder is refused: the agent has no working directory a person could mean.

Each reader returns None for text that is not its kind of phrase and raises
:class:`PhraseError` for one that is but cannot be read.
"""

from __future__ import annotations

import re

from atom_desktop.assistant.time_words import (
    COUNT,
    WEEKDAYS,
    PhraseError,
    read_clock,
    read_count,
    words,
)
from atom_desktop.automations.globs import GlobError, expand_path
from atom_desktop.automations.triggers import (
    MAX_INTERVAL_S,
    CronSchedule,
    FileEventKind,
    FileTrigger,
    IntervalSchedule,
)

_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {
    "day": "*",
    "days": "*",
    "weekday": "mon-fri",
    "weekdays": "mon-fri",
    "weekend": "sat,sun",
    "weekends": "sat,sun",
    "weekend day": "sat,sun",
    "weekend days": "sat,sun",
}
_INTERVAL_UNITS = {
    "minute": 60,
    "minutes": 60,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "hr": 3600,
    "hrs": 3600,
}
_FIXED_INTERVALS = {
    "hourly": 3600,
    "every hour": 3600,
    "each hour": 3600,
    "every minute": 60,
    "each minute": 60,
    "every half hour": 1800,
    "every half an hour": 1800,
}
_FILE_EVENTS: dict[str, list[FileEventKind]] = {
    "changes": ["created", "modified", "deleted", "moved"],
    "change": ["created", "modified", "deleted", "moved"],
    "changed": ["created", "modified", "deleted", "moved"],
    "is changed": ["created", "modified", "deleted", "moved"],
    "are changed": ["created", "modified", "deleted", "moved"],
    "is created": ["created"],
    "are created": ["created"],
    "is added": ["created", "moved"],
    "are added": ["created", "moved"],
    "appears": ["created", "moved"],
    "is modified": ["modified"],
    "is deleted": ["deleted"],
    "is removed": ["deleted"],
}
_EVENT_WORDS = "|".join(sorted(_FILE_EVENTS, key=len, reverse=True))
#: Words that start a schedule ("every ...", "hourly", "daily at ...").
SCHEDULE_START = re.compile(r"(?:every|each|hourly|daily)\b", re.IGNORECASE)
#: Words that start a file trigger.
FILE_START = re.compile(r"when(?:ever)?\b", re.IGNORECASE)


def read_schedule(text: str, zone: str) -> CronSchedule | IntervalSchedule | None:
    """A schedule phrase in the time zone ``zone`` (an IANA name); None if ``text`` is not one."""
    said = words(text)
    if said in _FIXED_INTERVALS:
        return IntervalSchedule(type="interval", seconds=_FIXED_INTERVALS[said], timezone=zone)
    if match := re.fullmatch(r"daily(?: at (.+))?", said):
        return _cron("*", match[1], said, zone)
    match = re.fullmatch(r"(?:every|each) (.+?)(?: at (.+))?", said)
    if match is None:
        return None
    days, at = match[1], match[2]
    if count := re.fullmatch(rf"({COUNT}) ([a-z]+)", days):
        if at is not None:
            raise PhraseError(f"{said!r}: an interval has no time of day; leave out 'at {at}'")
        return _interval(count[1], count[2], said, zone)
    return _cron(_weekdays(days), at, said, zone)


def read_file_trigger(text: str) -> FileTrigger | None:
    """A file-trigger phrase ("when a file in ~/inbox changes"); None if ``text`` is not one."""
    stripped = text.strip()
    head = re.match(r"when(?:ever)? ", stripped, re.IGNORECASE)
    if head is None:
        return None
    rest = stripped[head.end() :]
    # The folder keeps its letter case; only the words around it are matched loosely.
    match = re.fullmatch(
        rf"(?:(?:a|any|some) )?(?:files?|anything|something)(?: is| are)? "
        rf"(?:(?P<event1>created|added|modified|deleted|removed) )?(?:in|under|inside|to|from) "
        rf"(?P<dir1>.+?)(?: (?P<verb1>{_EVENT_WORDS}))?"
        rf"|(?P<dir2>.+?) (?P<verb2>{_EVENT_WORDS})",
        rest,
        re.IGNORECASE,
    )
    if match is None:
        return None
    folder = (match["dir1"] or match["dir2"]).strip()
    verb = match["verb1"] or match["verb2"]
    event = match["event1"]
    if verb is None and event is None:
        return None
    events = _FILE_EVENTS[f"is {event.lower()}"] if event else _FILE_EVENTS[verb.lower()]
    return FileTrigger(type="file", paths=[_folder(folder)], events=events)


def _folder(text: str) -> str:
    folder = _unquote(text)
    if not folder:
        raise PhraseError("the folder to watch is missing; e.g. when a file in ~/inbox changes")
    try:
        expand_path(folder)
    except GlobError as exc:
        raise PhraseError(f"cannot watch the folder: {exc}") from None
    return folder.rstrip("/\\") or folder


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`" and text[0] not in text[1:-1]:
        return text[1:-1]
    return text


def _interval(count: str, unit: str, said: str, zone: str) -> IntervalSchedule:
    size = _INTERVAL_UNITS.get(unit)
    if size is None:
        if unit in ("day", "days", "week", "weeks", "second", "seconds", "secs"):
            raise PhraseError(
                f"{said!r}: I can repeat every N minutes or hours, or every day at a time "
                "(e.g. every day at 9)"
            )
        raise PhraseError(f"{said!r}: {unit!r} is not a unit of time I know (minutes, hours)")
    number = read_count(count)
    if number < 1:
        raise PhraseError(f"{said!r} is not a schedule: the interval must be 1 or more")
    seconds = number * size
    if seconds > MAX_INTERVAL_S:
        raise PhraseError(f"{said!r} is too long an interval: at most 366 days")
    return IntervalSchedule(type="interval", seconds=seconds, timezone=zone)


def _weekdays(days: str) -> str:
    if days in _DAY_SETS:
        return _DAY_SETS[days]
    names = [n for n in re.split(r"\s*(?:,|\band\b|\bor\b|&)\s*", days) if n]
    numbers: list[int] = []
    for name in names:
        day = WEEKDAYS.get(name.removesuffix("s")) if name not in WEEKDAYS else WEEKDAYS[name]
        if day is None:
            raise PhraseError(
                f"'every {days}': {name!r} is not a day I know; say day, weekday, weekend or "
                "a day of the week"
            )
        numbers.append(day)
    return ",".join(_CRON_DAYS[d] for d in sorted(set(numbers)))


def _cron(days: str, at: str | None, said: str, zone: str) -> CronSchedule:
    if at is None:
        raise PhraseError(f"{said!r} needs a time of day, e.g. {said} at 9")
    clock = read_clock(at)
    return CronSchedule(
        type="cron", expression=f"{clock.minute} {clock.hour} * * {days}", timezone=zone
    )
