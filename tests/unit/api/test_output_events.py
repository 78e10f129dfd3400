"""SSE output events: the fast path gives exactly what json.dumps would."""

from __future__ import annotations

import base64
import codecs
import json

from hypothesis import given
from hypothesis import strategies as st

from atom_desktop.api.output_events import OutputEvents
from atom_desktop.core.output import Chunk
from atom_desktop.runner.follow import Dropped, Exited
from atom_desktop.runner.output import now


def reference(chunks: list[Chunk]) -> list[bytes]:
    """The events as the route first wrote them: one decoder per stream, json.dumps."""
    decoders = {
        s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")
    }
    events = []
    for chunk in chunks:
        payload = {
            "seq": chunk.seq,
            "stream": chunk.stream,
            "text": decoders[chunk.stream].decode(chunk.data),
        }
        events.append(f"id: {chunk.seq}\nevent: output\ndata: {json.dumps(payload)}\n\n".encode())
    return events


def as_chunks(pieces: list[tuple[str, bytes]]) -> list[Chunk]:
    return [Chunk(seq, stream, now(), data) for seq, (stream, data) in enumerate(pieces, 1)]


# Output that exercises both paths: plain ASCII lines, quotes and backslashes,
# every control character, DEL, multi-byte characters (split across chunks
# when a piece ends inside one), and bytes that are not UTF-8 at all.
ALPHABET = [
    b"plain text ",
    b"\n",
    b"\r\n",
    b"\t",
    b'"quoted"',
    b"back\\slash",
    b"\x7f",
    "é".encode(),
    "😀".encode(),
    b"\xff\xfe",
    *(bytes([c]) for c in range(0x20)),
]
output = st.lists(st.sampled_from(ALPHABET), max_size=30).map(b"".join)


@given(st.lists(st.tuples(st.sampled_from(["stdout", "stderr"]), output), max_size=12))
def test_text_events_are_what_json_dumps_gives(pieces: list[tuple[str, bytes]]) -> None:
    chunks = as_chunks(pieces)
    events = OutputEvents("text")
    assert [events.output(c) for c in chunks] == reference(chunks)


def test_every_ascii_character_is_escaped_as_json_dumps_does() -> None:
    chunks = as_chunks([("stdout", b"x" + bytes([c]) + b"y") for c in range(128)])
    events = OutputEvents("text")
    assert [events.output(c) for c in chunks] == reference(chunks)


def test_an_ascii_chunk_after_half_a_character_still_ends_that_character() -> None:
    # The cut character can never be completed: the decoder says so (U+FFFD)
    # before the plain text that follows.
    chunks = as_chunks([("stdout", b"a" + "é".encode()[:1]), ("stdout", b"plain\n")])
    events = OutputEvents("text")
    assert [events.output(c) for c in chunks] == reference(chunks)


def test_a_character_split_across_chunks_is_joined_and_streams_decode_apart() -> None:
    smile = "😀".encode()
    chunks = as_chunks(
        [("stdout", b"a" + smile[:2]), ("stderr", b"err\n"), ("stdout", smile[2:] + b"b\n")]
    )
    events = OutputEvents("text")
    texts = [json.loads(events.output(c).split(b"data: ", 1)[1])["text"] for c in chunks]
    assert texts == ["a", "err\n", "😀b\n"]


def test_base64_events_carry_the_exact_bytes() -> None:
    data = b"\xff\xfe" + "😀".encode()[:3]
    event = OutputEvents("base64").output(Chunk(7, "stderr", now(), data))
    payload = json.loads(event.split(b"data: ", 1)[1])
    assert event.startswith(b"id: 7\nevent: output\n")
    assert payload == {"seq": 7, "stream": "stderr", "data": base64.b64encode(data).decode()}


def test_dropped_and_exit_events() -> None:
    assert (
        OutputEvents.dropped(Dropped(3, 9))
        == b'event: dropped\ndata: {"from_seq": 3, "to_seq": 9}\n\n'
    )
    exit_event = OutputEvents.exit(Exited("failed", 2, None, 41))
    assert json.loads(exit_event.removeprefix(b"event: exit\ndata: ")) == {
        "status": "failed",
        "exit_code": 2,
        "signal": None,
        "last_seq": 41,
    }
