"""A run's output as Server-Sent Events, encoded fast enough for a flood.

An ``output`` event carries ``{"seq", "stream", "text"}`` (or ``"data"``, the
bytes in base64). ``json.dumps`` escapes a 64 KiB chunk of ordinary output
in about 100 us, a third of everything the agent did per chunk in a flood.
Most output is ASCII with no control characters but newlines, tabs and
carriage returns; for such a chunk the JSON string is the bytes with five
characters escaped, done with ``bytes.replace`` in a quarter of the time.
Any other chunk (non-ASCII, other control characters, or a multi-byte
character still pending from the chunk before) takes the general path, so
both give the same JSON.
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
import json
from typing import Literal

from atom_desktop.core.output import Chunk
from atom_desktop.runner.follow import Dropped, Exited

Encoding = Literal["text", "base64"]

# Characters json.dumps escapes as \u00XX (control characters other than the
# common tab, newline and carriage return, and DEL).
_RARE_CONTROLS = bytes(c for c in [*range(0x20), 0x7F] if c not in b"\t\n\r")
# ``translate(None, _ALL_BUT_RARE)`` keeps only the rare controls: empty means none.
_ALL_BUT_RARE = bytes(c for c in range(256) if c not in _RARE_CONTROLS)


def _plain_ascii(data: bytes) -> bool:
    return data.isascii() and not data.translate(None, _ALL_BUT_RARE)


def _json_string_body(data: bytes) -> bytes:
    """``data`` (plain ASCII) escaped as the inside of a JSON string, as json.dumps does it."""
    return (
        data.replace(b"\\", b"\\\\")
        .replace(b'"', b'\\"')
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


class OutputEvents:
    """Encodes one viewer's chunks as SSE events (bytes), decoding each stream's text in order."""

    def __init__(self, encoding: Encoding = "text") -> None:
        self._encoding = encoding
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        # Whether a stream's decoder holds the start of a character split
        # across chunks; then the next chunk must go through it.
        self._pending = {"stdout": False, "stderr": False}

    def output(self, chunk: Chunk) -> bytes:
        """The ``output`` event for ``chunk`` (its ``id`` is the chunk's seq)."""
        seq, stream = chunk.seq, chunk.stream
        head = f'id: {seq}\nevent: output\ndata: {{"seq": {seq}, "stream": "{stream}", '
        if self._encoding == "base64":
            value = base64.b64encode(chunk.data)
            return b'%s"data": "%s"}\n\n' % (head.encode(), value)
        if not self._pending[chunk.stream] and _plain_ascii(chunk.data):
            return b'%s"text": "%s"}\n\n' % (head.encode(), _json_string_body(chunk.data))
        decoder = self._decoders[chunk.stream]
        text = json.dumps(decoder.decode(chunk.data))
        self._pending[chunk.stream] = bool(decoder.getstate()[0])
        return f'{head}"text": {text}}}\n\n'.encode()

    @staticmethod
    def dropped(event: Dropped) -> bytes:
        """The ``dropped`` event: output between these seqs (inclusive) was not kept."""
        data = json.dumps({"from_seq": event.first_seq, "to_seq": event.last_seq})
        return f"event: dropped\ndata: {data}\n\n".encode()

    @staticmethod
    def exit(event: Exited) -> bytes:
        """The final ``exit`` event: ``{"status", "exit_code", "signal", "last_seq"}``."""
        return f"event: exit\ndata: {json.dumps(dataclasses.asdict(event))}\n\n".encode()
