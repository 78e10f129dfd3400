"""The plan's ``reply`` read out of its JSON while the JSON is still arriving.

A provider streams a plan as JSON text (``{"reply": "...", "steps": [...]}``).
A person should see the reply appear as it is written, not JSON, and not only
at the end. :class:`ReplyStream` takes the pieces as they come and gives back
the characters of the top-level ``reply`` string as soon as they are
complete (an escape split across pieces waits for its end). It never raises:
text that is not the JSON it expects gives nothing, and the plan is still
validated whole at the end.
"""

from __future__ import annotations

from enum import Enum, auto

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Mode(Enum):
    SCAN = auto()  # outside strings
    STRING = auto()  # inside a string that is not the reply
    KEY = auto()  # inside a top-level key
    COLON = auto()  # after the key "reply", before its value
    REPLY = auto()  # inside the reply's string
    DONE = auto()  # the reply has ended


class ReplyStream:
    """Feed it JSON text in pieces; it returns the reply's new characters each time."""

    def __init__(self) -> None:
        self._mode = _Mode.SCAN
        self._depth = 0
        self._escape = ""  # an escape begun ("\\" or "\\uXXX...") not yet complete
        self._key: list[str] = []
        self._high: str | None = None  # the first half of a surrogate pair

    def feed(self, piece: str) -> str:
        """The reply's characters completed by ``piece`` (often none)."""
        out: list[str] = []
        for char in piece:
            self._step(char, out)
        return "".join(out)

    def _step(self, char: str, out: list[str]) -> None:
        mode = self._mode
        if mode is _Mode.DONE:
            return
        if mode is _Mode.REPLY:
            self._reply_char(char, out)
        elif mode in (_Mode.STRING, _Mode.KEY):
            self._string_char(char)
        elif mode is _Mode.COLON:
            if char == '"':
                self._mode = _Mode.REPLY
            elif char not in " \t\r\n:":
                # The reply is not a string: nothing to show.
                self._mode = _Mode.SCAN
                self._step(char, out)
        elif char == '"':
            self._mode = _Mode.KEY if self._depth == 1 else _Mode.STRING
            self._key.clear()
        elif char in "{[":
            self._depth += 1
        elif char in "}]":
            self._depth -= 1

    def _string_char(self, char: str) -> None:
        # Skipping a string: only where it ends matters (and a top-level key's name).
        if self._escape:
            self._escape = ""
            if self._mode is _Mode.KEY:
                self._key.append(_ESCAPES.get(char, char))
            return
        if char == "\\":
            self._escape = "\\"
        elif char == '"':
            is_reply = self._mode is _Mode.KEY and "".join(self._key) == "reply"
            self._mode = _Mode.COLON if is_reply else _Mode.SCAN
        elif self._mode is _Mode.KEY:
            self._key.append(char)

    def _reply_char(self, char: str, out: list[str]) -> None:
        if not self._escape:
            if char == "\\":
                self._escape = "\\"
            elif char == '"':
                self._mode = _Mode.DONE
            else:
                out.append(char)
            return
        self._escape += char
        if self._escape[1] != "u":
            self._escape, code = "", self._escape[1]
            out.append(_ESCAPES.get(code, code))
            return
        if len(self._escape) < 6:
            return
        hex_digits, self._escape = self._escape[2:], ""
        try:
            unit = int(hex_digits, 16)
        except ValueError:
            return
        self._unicode(unit, out)

    def _unicode(self, unit: int, out: list[str]) -> None:
        if 0xD800 <= unit <= 0xDBFF:
            self._high = chr(unit)
            return
        if 0xDC00 <= unit <= 0xDFFF and self._high is not None:
            pair = (self._high + chr(unit)).encode("utf-16-le", "surrogatepass")
            self._high = None
            out.append(pair.decode("utf-16-le"))
            return
        self._high = None
        out.append(chr(unit))
