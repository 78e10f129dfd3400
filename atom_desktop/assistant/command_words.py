"""The command in "run COMMAND": taken exactly as written, or refused when it is not one.

The command is never guessed from a description: "run the tests" is refused
(it names no program), and so is "run git pull and run pytest" (two
commands: the person writes them as one shell line, ``git pull && pytest``).
A command wholly in quotes (``'...'``, ``"..."`` or backticks) is taken as
it is inside them, with none of these checks: quoting says "exactly this".
Otherwise a full stop or exclamation mark that ends a sentence is dropped
("run make." runs ``make``), but one after a space is kept ("run ls ." lists
the current folder).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from atom_desktop.assistant.time_words import NotAPhraseError, PhraseError, read_when

QUOTES = "'\"`"
#: First words that describe rather than name a program.
DESCRIPTIVE = frozenset(
    {"the", "a", "an", "my", "our", "your", "all", "some", "this", "that", "these", "those", "it"}
)
_CHAIN = re.compile(r"(?:,|\s)\s*(?:and\s+then|and|then)\s+(?:run|execute)\s", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9_\"')\]])[.!]+$")
#: How many trailing words may be a time said by mistake ("run backup at 9").
_TAIL_WORDS = 4


def unquote(text: str) -> tuple[str, bool]:
    """``text`` without quotes that wrap all of it, and whether there were such quotes."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in QUOTES and text[0] not in text[1:-1]:
        return text[1:-1], True
    return text, False


def read_command(text: str) -> str:
    """The shell line in ``text`` (what followed "run"); PhraseError when it is not one."""
    said = _SENTENCE_END.sub("", text.strip())
    command, quoted = unquote(said)
    if not command.strip():
        raise PhraseError("The command is empty: say what to run, e.g. run make test")
    if quoted:
        return command
    first = command.split()[0].lower()
    if first in DESCRIPTIVE:
        raise PhraseError(
            f"{command!r} describes something rather than naming a command, and the offline "
            "parser does not guess commands: write the command itself, e.g. run pytest "
            "(or quote it to run it exactly as written)"
        )
    if _CHAIN.search(command):
        raise PhraseError(
            f"{command!r} looks like several commands joined by words; the offline parser "
            "does not split them: write one shell line, e.g. run git pull && pytest"
        )
    _refuse_trailing_time(command)
    return command


def _refuse_trailing_time(command: str) -> None:
    """A command ending in "at 9" or "tomorrow" was probably meant for later: refuse it."""
    parts = command.split()
    for count in range(min(_TAIL_WORDS, len(parts) - 1), 0, -1):
        tail = " ".join(parts[-count:])
        if not re.match(r"(?:at|on|tomorrow|today|tonight|in|next)\b", tail, re.IGNORECASE):
            continue
        try:
            read_when(tail, _REFERENCE)
        except (NotAPhraseError, PhraseError):
            continue
        raise PhraseError(
            f"{tail!r} at the end of the command looks like a time: a command runs now, or on "
            "a repeating schedule (every day at 9 run COMMAND); for a one-off reminder say "
            "remind me to ... at ...; quote the command if those words belong to it"
        )


# Only whether a tail reads as a time matters here, not which moment it names.
_REFERENCE = datetime(2000, 1, 3, 12, 0, tzinfo=UTC)
