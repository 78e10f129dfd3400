"""The reply read out of a plan's JSON as it streams, however the JSON is cut into pieces."""

from __future__ import annotations

import itertools
import json

from hypothesis import given
from hypothesis import strategies as st

from atom_desktop.assistant.reply_stream import ReplyStream

steps = st.lists(
    st.fixed_dictionaries({"type": st.just("shell"), "shell": st.text(max_size=30)}), max_size=3
)


def read(text: str, cuts: list[int]) -> str:
    stream = ReplyStream()
    bounds = [0, *sorted(c % (len(text) + 1) for c in cuts), len(text)]
    return "".join(stream.feed(text[a:b]) for a, b in itertools.pairwise(bounds))


@given(
    reply=st.text(),
    plan_steps=steps,
    reply_first=st.booleans(),
    ascii_only=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
)
def test_the_reply_comes_out_whole_however_the_json_is_cut(
    reply: str,
    plan_steps: list[dict[str, str]],
    reply_first: bool,
    ascii_only: bool,
    cuts: list[int],
) -> None:
    body = {"reply": reply, "steps": plan_steps}
    if not reply_first:
        body = {"steps": plan_steps, "reply": reply}
    text = json.dumps(body, ensure_ascii=ascii_only)
    assert read(text, cuts) == reply


def test_pieces_give_the_reply_as_it_comes() -> None:
    stream = ReplyStream()
    assert stream.feed('{"rep') == ""
    assert stream.feed('ly": "Noth') == "Noth"
    assert stream.feed("ing failed\\") == "ing failed"
    assert stream.feed("n\\u00") == "\n"
    assert stream.feed('e9.", "steps": []}') == "\u00e9."


def test_a_reply_inside_a_step_or_not_a_string_is_not_the_reply() -> None:
    nested = json.dumps({"steps": [{"type": "notify", "reply": "no"}], "reply": "yes"})
    assert read(nested, []) == "yes"
    assert read('{"reply": 5, "steps": []}', []) == ""
    assert read('{"a": "reply", "b": "x"}', []) == ""


@given(st.text())
def test_any_text_is_read_without_raising(text: str) -> None:
    ReplyStream().feed(text)
