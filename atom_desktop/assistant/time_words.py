"""Times and dates as English requests say them: "at 9:30", "next Friday", "in 3 days".

A bounded grammar, read the same way every time:

- A bare hour is on the 24-hour clock: "at 9" is 09:00 and "at 17" is 17:00;
  "9pm" says the afternoon. "noon" and "midnight" are 12:00 and 00:00.
- A weekday ("Friday", "on Friday", "this Friday", "next Friday") is the first
  such day after today, never today itself. English does not agree on what
  "next Friday" means, so every plan shows the date it was read as.
- "Dec 10" without a year is the next Dec 10 from today; "12/10" is refused
  (10 December or 12 October?); "2026-12-10" is always clear.
- "in 20 minutes" and "in 2 hours" are exact moments from now; "in 3 days" and
  "in 2 weeks" are calendar days, so a clock change in between moves nothing.
- A local time that a clock change skips (02:30 when the clocks go forward) is
  refused; one that happens twice (when they go back) is the first of the two.

:class:`PhraseError` is a phrase that was recognised but cannot be read (its
message says why and what to write); :class:`NotAPhraseError` is text that is not a
time or date at all, which callers treat as ordinary words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
#: Counts written as words ("every five minutes", "in an hour").
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
}
#: A count as digits or one of the words above.
COUNT = r"(?:[0-9]+(?:[.,][0-9]+)?|[a-z]+(?:-[a-z]+)?)"
#: What may follow "at": a clock time, or a word the reader then refuses.
CLOCK = r"(?:[0-9]{1,2}(?:[:.][0-9]{2})?(?: ?(?:am|pm|a\.m\.?|p\.m\.?))?|[^ ]+)"
#: How far ahead a date may be, in days (about a hundred years).
HORIZON_DAYS = 36_525
#: A task due on a day, with no time said, is due by the end of that day.
END_OF_DAY_HOUR, END_OF_DAY_MINUTE = 23, 59
_SPACES = re.compile(r"\s+")
_UNITS = {
    "minute": "minutes",
    "minutes": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "hour": "hours",
    "hours": "hours",
    "hr": "hours",
    "hrs": "hours",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
}


#: How many of each unit make a day (weeks: a seventh, so the horizon counts weeks).
_PER_DAY = {
    "minutes": Fraction(1440),
    "hours": Fraction(24),
    "days": Fraction(1),
    "weeks": Fraction(1, 7),
}


class PhraseError(ValueError):
    """A time or date phrase that was recognised but cannot be read; the message says why."""


class NotAPhraseError(ValueError):
    """Text that is not a time or date phrase at all."""


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A time of day, to the minute."""

    hour: int
    minute: int

    def text(self) -> str:
        """On the 24-hour clock: ``09:30``."""
        return f"{self.hour:02d}:{self.minute:02d}"


END_OF_DAY = ClockTime(END_OF_DAY_HOUR, END_OF_DAY_MINUTE)


@dataclass(frozen=True, slots=True)
class When:
    """A phrase read: a day, a time of day, both, or an exact moment ("in 20 minutes")."""

    day: date | None = None
    clock: ClockTime | None = None
    moment: datetime | None = None
    #: "in 3 days": without a time said, the time of day it is now.
    same_time: bool = False


def words(text: str) -> str:
    """``text`` in lower case, its runs of spaces made one."""
    return _SPACES.sub(" ", text.strip().lower())


def read_count(text: str) -> int:
    """A whole number from digits or a word ("five"); PhraseError for "1.5" and other words."""
    if text.isascii() and text.isdigit():
        # Python refuses to read an int of more than 4,300 digits; no count needs ten.
        if len(text.lstrip("0")) > 9:
            raise PhraseError(f"{text[:12]}... is too large a number")
        return int(text)
    if text in NUMBER_WORDS:
        return NUMBER_WORDS[text]
    if re.fullmatch(r"[0-9]+[.,][0-9]+", text):
        raise PhraseError(f"{text!r} is not a whole number; use whole minutes or hours")
    raise PhraseError(f"{text!r} is not a number I know; write it in digits (e.g. 15)")


def read_clock(text: str) -> ClockTime:
    """``9``, ``9am``, ``9 pm``, ``9:30``, ``17:00``, ``noon``, ``midnight``; PhraseError else."""
    said = words(text)
    if said == "noon":
        return ClockTime(12, 0)
    if said == "midnight":
        return ClockTime(0, 0)
    match = re.fullmatch(r"([0-9]{1,2})(?:[:.]([0-9]{2}))? ?(am|pm|a\.m\.?|p\.m\.?)?", said)
    if match is None:
        raise PhraseError(f"{text!r} is not a time of day; write it as 9, 9am, 9:30 or 17:00")
    hour, minute = int(match[1]), int(match[2] or 0)
    if minute > 59:
        raise PhraseError(f"{text!r} is not a time of day: minutes go from 00 to 59")
    if match[3]:
        if not 1 <= hour <= 12:
            raise PhraseError(f"{text!r} is not a time of day: with am or pm the hour is 1 to 12")
        hour = hour % 12 + (12 if match[3].startswith("p") else 0)
    elif hour > 23:
        raise PhraseError(f"{text!r} is not a time of day: an hour is 0 to 23 (17:00 is 5pm)")
    return ClockTime(hour, minute)


def read_day(text: str, today: date) -> date:
    """A day from ``today``'s point of view; NotAPhraseError when ``text`` names none."""
    day = _read_day(text, today)
    _within_horizon(day - today, text)
    return day


def _within_horizon(ahead: timedelta, text: str) -> None:
    # Far enough for any plan; near enough that every time stays a valid
    # RFC 3339 year (core.formats takes 1000 to 8999) in every zone.
    if ahead > timedelta(days=HORIZON_DAYS):
        raise PhraseError(f"{text!r} is more than 100 years away")


def _read_day(text: str, today: date) -> date:
    said = words(text)
    on = said.startswith("on ")
    said = said.removeprefix("on ")
    if said == "today":
        return today
    if said in ("tomorrow", "tmrw", "tmr"):
        return today + timedelta(days=1)
    if said == "yesterday":
        raise PhraseError("'yesterday' has passed; name a day from today on")
    if match := re.fullmatch(r"(?:(this|next|coming) )?([a-z]+)", said):
        return _weekday(match[1] or ("on" if on else None), match[2], today)
    if match := re.fullmatch(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", said):
        return _date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := re.fullmatch(r"([a-z]+)\.? ([0-9]{1,2})(?:st|nd|rd|th)?(?:,? ([0-9]{4}))?", said):
        return _month_day(match[1], int(match[2]), match[3], today, text)
    if match := re.fullmatch(
        r"([0-9]{1,2})(?:st|nd|rd|th)? (?:of )?([a-z]+)\.?(?:,? ([0-9]{4}))?", said
    ):
        return _month_day(match[2], int(match[1]), match[3], today, text)
    if re.fullmatch(r"[0-9]{1,2}/[0-9]{1,2}(?:/[0-9]{2,4})?", said):
        raise PhraseError(
            f"{text!r} could be read day-first or month-first; write 2026-12-10 or Dec 10"
        )
    raise NotAPhraseError(text)


def read_when(text: str, now: datetime) -> When:
    """A phrase such as "tomorrow at 9", "at 5pm on Friday", "Dec 10", "in 20 minutes".

    A leading "due", "by" or "on" is allowed. ``now`` is aware and local: the
    day words count from its date.
    """
    said = words(text)
    # "due" says a date follows; "by" is too common a word to say so ("pass by the shop").
    explicit = bool(re.match(r"due(?: |$)", said))
    said = re.sub(r"^(?:due|by) ", "", said)
    try:
        return _when(said, now)
    except NotAPhraseError:
        if explicit:
            raise PhraseError(
                f"I did not understand the date in {text!r}; write e.g. tomorrow, "
                "next Friday, in 3 days, Dec 10 or 2026-12-10, with at 9:30 for a time"
            ) from None
        raise


def _when(said: str, now: datetime) -> When:
    today = now.date()
    if match := re.fullmatch(rf"in ({COUNT}) ([a-z]+)", said):
        unit = _UNITS.get(match[2])
        if unit is None:
            raise NotAPhraseError(said)
        count = read_count(match[1])
        if count < 1:
            raise PhraseError(f"'in {match[1]} {match[2]}' is now; say a later time")
        # Checked before the sum: a huge count would overflow the date.
        if count > HORIZON_DAYS * _PER_DAY[unit]:
            raise PhraseError(f"{said!r} is more than 100 years away")
        if unit in ("minutes", "hours"):
            # In UTC: arithmetic on a zoned datetime moves the wall clock, not time.
            return When(moment=now.astimezone(UTC) + timedelta(**{unit: count}))
        return When(day=today + timedelta(**{unit: count}), same_time=True)
    if match := re.fullmatch(rf"at ({CLOCK})(?: (.+))?", said):
        clock, day_text = match[1], match[2]
    elif match := re.fullmatch(rf"(.+?),? at ({CLOCK})", said):
        day_text, clock = match[1], match[2]
    else:
        return When(day=read_day(said, today))
    day = read_day(day_text, today) if day_text is not None else None
    if not re.match(r"[0-9]|noon$|midnight$", clock):
        raise NotAPhraseError(said)  # "at the office": words, not a time
    return When(day=day, clock=read_clock(clock))


def local_moment(day: date, clock: ClockTime, zone: ZoneInfo) -> datetime:
    """``clock`` on ``day`` in ``zone``; PhraseError if a clock change skips that time."""
    wall = datetime(day.year, day.month, day.day, clock.hour, clock.minute)
    # fold=0: of a time that happens twice (clocks going back), the first.
    moment = wall.replace(tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise PhraseError(
            f"{clock.text()} on {day:%a %d %b %Y} does not exist in {zone.key}: the clocks "
            "go forward then; choose another time"
        )
    return moment


def next_moment(clock: ClockTime, now: datetime, zone: ZoneInfo) -> datetime:
    """The next time the local clock shows ``clock``: today if still to come, else tomorrow."""
    today = now.astimezone(zone).date()
    moment = local_moment(today, clock, zone)
    if later(moment, now):
        return moment
    return local_moment(today + timedelta(days=1), clock, zone)


def later(moment: datetime, than: datetime) -> bool:
    """Whether ``moment`` comes after ``than`` in time (compared in UTC: two datetimes of
    one zone compare by wall clock, which is wrong in the hour the clocks go back)."""
    return moment.astimezone(UTC) > than.astimezone(UTC)


def moment_of(when: When, now: datetime, zone: ZoneInfo, *, default: ClockTime | None) -> datetime:
    """The moment ``when`` names; a day without a time takes ``default`` (PhraseError if None)."""
    if when.moment is not None:
        return when.moment.astimezone(zone)
    if when.day is None:
        assert when.clock is not None  # a When names something
        return next_moment(when.clock, now, zone)
    clock = when.clock or default
    if clock is None and when.same_time:
        clock = ClockTime(now.astimezone(zone).hour, now.astimezone(zone).minute)
    if clock is None:
        raise PhraseError(
            f"{when.day:%a %d %b %Y} names a day but not a time; add one, e.g. at 9 or at 17:30"
        )
    return local_moment(when.day, clock, zone)


def _weekday(prefix: str | None, word: str, today: date) -> date:
    weekday = WEEKDAYS.get(word)
    if weekday is None:
        if word.endswith("day") and prefix is not None:
            raise PhraseError(f"{word!r} is not a day of the week")
        if prefix is not None and word in ("week", "weekend", "month", "year"):
            raise PhraseError(
                f"'{prefix} {word}' does not name a day; say which, e.g. next Monday or Dec 10"
            )
        raise NotAPhraseError(word)
    # The first such day after today (a week from now when it is today).
    ahead = (weekday - today.weekday() - 1) % 7 + 1
    return today + timedelta(days=ahead)


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise PhraseError(f"{text!r} is not a date in the calendar") from None


def _month_day(month_word: str, day: int, year: str | None, today: date, text: str) -> date:
    month = MONTHS.get(month_word)
    if month is None:
        raise NotAPhraseError(text)
    if year is not None:
        return _date(int(year), month, day, text)
    # This year's, or next year's when this year's has passed (29 Feb: the next leap year).
    for ahead in range(9):
        try:
            found = date(today.year + ahead, month, day)
        except ValueError:
            if day > 29 or month != 2:
                break
            continue
        if found >= today:
            return found
    raise PhraseError(f"{text!r} is not a date in the calendar")
