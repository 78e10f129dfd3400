"""Text as clients write it: one regular expression for the document and the check.

The API publishes these patterns in its OpenAPI document and checks what it
is sent against the very same rules, so text the document allows is text the
agent takes. They are written in the part of the regex language that reads
the same everywhere (ECMA 262, Python, Rust): no ``\\s``, ``\\d`` or ``\\w``, whose
sets differ between dialects, and ``$`` only where the check matches the
whole text.

Date-times name only dates that exist (30 February does not, 29 February only
in leap years), times from 00:00:00 to 23:59:59, and years 1000 to 8999: far
enough from the ends of what a date can hold that no offset moves a time out
of range when it is turned into UTC.
"""

from __future__ import annotations

import re
from datetime import datetime

#: Every character ``str.strip()`` takes off (``str.isspace()``), as the
#: inside of a regex class: what "blank" means, and what is stripped.
SPACE_CLASS = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: No NUL anywhere: no C string can hold one (arguments, paths, environment
#: values), and the search index and terminals cut text there.
NO_NUL = r"^[^\x00]*$"
#: No NUL, and something besides spaces (names and titles).
NOT_BLANK = rf"^[^\x00]*[^\x00{SPACE_CLASS}][^\x00]*$"


def whole_number(value: object) -> object:
    """A float without a fraction as the int it equals; anything else unchanged.

    JSON Schema counts ``2.0`` as an integer, as JSON itself does not tell
    them apart; a strict model would refuse it. Booleans stay as they are
    (and are refused).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_text(value: str, *, blank: bool = True) -> str:
    """``value`` unchanged, or ValueError if it holds a NUL (or, unless ``blank``, only spaces)."""
    if "\x00" in value:
        raise ValueError("cannot contain NUL characters")
    if not blank and not value.strip():
        raise ValueError("cannot be blank")
    return value


_YEAR = "[1-8][0-9]{3}"
# Divisible by 4 and not by 100 (the last two digits), or by 400 (then they are 00).
_LEAP_YEAR = "(?:[1-8][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[1357][26])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,9})?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"

#: A date and time with its offset from UTC: ``2025-01-31T09:00:00Z``.
WITH_OFFSET = f"^{_DATE}[Tt]{_TIME}{_OFFSET}$"
#: The same, the offset optional: a time without one is local to some time zone.
OFFSET_OPTIONAL = f"^{_DATE}[Tt]{_TIME}{_OFFSET}?$"

_WITH_OFFSET = re.compile(WITH_OFFSET)
_OFFSET_OPTIONAL = re.compile(OFFSET_OPTIONAL)


def check_timestamp_text(value: object, *, offset: bool) -> object:
    """``value`` unchanged if it is a datetime, or text of the shape above (with an
    offset when ``offset``); ValueError for anything else, numbers included (a
    lenient parser would read them as seconds since 1970)."""
    if isinstance(value, datetime):
        return value
    pattern = _WITH_OFFSET if offset else _OFFSET_OPTIONAL
    # fullmatch: the patterns' "$" means the end of the text, as in the document.
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    example = "2025-01-31T09:00:00Z" if offset else "2025-01-31T09:00:00 or 2025-01-31T09:00:00Z"
    raise ValueError(
        f"must be a date and time as RFC 3339 writes it{' with its offset' if offset else ''}, "
        f"e.g. {example} (a year from 1000 to 8999)"
    )
