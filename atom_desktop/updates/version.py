"""Release numbers as the project writes them ("0.1.0") and their order.

Only dotted numbers are releases: a manifest naming "1.0rc1" or "latest" is
refused rather than guessed at, so the order is never ambiguous.
"""

from __future__ import annotations

import re
from functools import total_ordering

_RELEASE = re.compile(r"(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){0,3}")


@total_ordering
class Release:
    """A release number of one to four dotted parts; trailing zeros do not count."""

    __slots__ = ("_key", "text")

    def __init__(self, text: str) -> None:
        if not _RELEASE.fullmatch(text):
            raise ValueError(
                f"{text!r} is not a release number: write one to four dot-separated "
                "numbers without leading zeros, e.g. 0.2.0"
            )
        self.text = text
        parts = [int(part) for part in text.split(".")]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        self._key = tuple(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Release) and self._key == other._key

    def __lt__(self, other: Release) -> bool:
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"Release({self.text!r})"

    def __str__(self) -> str:
        return self.text


def is_release(text: str) -> bool:
    """Whether ``text`` is a release number :class:`Release` accepts."""
    return _RELEASE.fullmatch(text) is not None
