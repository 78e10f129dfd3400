"""SGR parsing, escape stripping and carriage-return handling for the console (no Qt)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from atom_desktop.gui.ansi import (
    DEFAULT_STATE,
    ParseCache,
    Run,
    SgrState,
    SgrTracker,
    _parse_general,
    apply_sgr,
    display_text,
    fold_sgr,
    overwrite_carriage_returns,
    parse_line,
    split_long_line,
)

RED = SgrState(fg=1)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("31", SgrState(fg=1)),
        ("1;32", SgrState(fg=2, bold=True)),
        ("94", SgrState(fg=12)),
        ("103", SgrState(bg=11)),
        ("38;5;208", SgrState(fg=208)),
        ("48;5;21", SgrState(bg=21)),
        ("38;2;10;20;30", SgrState(fg=(10, 20, 30))),
        ("48;2;300;0;7", SgrState(bg=(255, 0, 7))),
        ("38:2::1:2:3", SgrState(fg=(1, 2, 3))),  # ITU form with a colour-space id
        ("38:2:4:5:6", SgrState(fg=(4, 5, 6))),
        ("38:5:99", SgrState(fg=99)),
        ("3;4;7;9;2", SgrState(italic=True, underline=True, inverse=True, strike=True, dim=True)),
        ("4:3", SgrState(underline=True)),
        ("21", SgrState(underline=True)),
        ("1;2;22", DEFAULT_STATE),  # 22 turns off bold and dim
        ("31;0;32", SgrState(fg=2)),
        ("31;39", DEFAULT_STATE),
        ("", DEFAULT_STATE),
        ("0", DEFAULT_STATE),
        ("5;8;53", DEFAULT_STATE),  # blink, conceal, overline: ignored
        ("38;7;1;31", DEFAULT_STATE),  # malformed extended colour: the rest is dropped
    ],
)
def test_sgr_parameters_from_default(params: str, expected: SgrState) -> None:
    assert apply_sgr(DEFAULT_STATE, params) == expected


def test_sgr_changes_only_what_it_names() -> None:
    state = SgrState(fg=1, bg=(1, 2, 3), bold=True, underline=True)
    assert apply_sgr(state, "24") == SgrState(fg=1, bg=(1, 2, 3), bold=True)
    assert apply_sgr(state, "49;23") == SgrState(fg=1, bold=True, underline=True)
    assert apply_sgr(state, "0") == DEFAULT_STATE


def test_a_line_splits_into_styled_runs_at_its_columns() -> None:
    parsed = parse_line("a \x1b[1;31mred\x1b[0m b\x1b[38;2;9;8;7mrgb\x1b[m", DEFAULT_STATE)
    assert parsed.text == "a red brgb"
    assert parsed.runs == (
        Run(0, "a ", DEFAULT_STATE),
        Run(2, "red", SgrState(fg=1, bold=True)),
        Run(5, " b", DEFAULT_STATE),
        Run(7, "rgb", SgrState(fg=(9, 8, 7))),
    )
    assert parsed.end_state == DEFAULT_STATE


def test_a_line_starts_in_the_state_the_previous_line_left() -> None:
    parsed = parse_line("still red\x1b[1m bold", RED)
    assert parsed.runs == (Run(0, "still red", RED), Run(9, " bold", RED._replace(bold=True)))
    assert parsed.end_state == RED._replace(bold=True)


@pytest.mark.parametrize(
    "raw",
    [
        "\x1b[2Kx",  # erase line
        "\x1b[1;1Hx",  # cursor position
        "\x1b[3Ax",  # cursor up
        "\x1b[?25lx\x1b[?25h",  # hide/show cursor (private mode)
        "\x1b[>4;2mx",  # xterm modifyOtherKeys: private, not SGR
        "\x1b]0;a window title\x07x",  # OSC ended by BEL
        "\x1b]2;title\x1b\\x",  # OSC ended by ST
        "\x1b]8;;https://example.com\x1b\\x\x1b]8;;\x1b\\",  # hyperlink: the text stays
        "\x1bP1$r0m\x1b\\x",  # DCS
        "\x1b(Bx",  # charset
        "\x1b7x\x1b8",  # save/restore cursor
        "\x1b=x\x1b>",  # keypad modes
        "x\x07",  # bell
        "\x00x\x7f",  # NUL and DEL
        "\x9bx",  # a C1 control
        "x\x1b",  # cut short: a lone ESC
        "x\x1b[",  # cut short: CSI with no final byte yet
        "x\x1b[38;5",  # cut short in its parameters
        "x\x1b]0;unterminated title",  # OSC cut short
    ],
)
def test_escapes_other_than_sgr_are_removed(raw: str) -> None:
    assert display_text(raw) == "x"
    assert parse_line(raw, DEFAULT_STATE).text == "x"


def test_an_unterminated_osc_ends_at_the_next_escape() -> None:
    parsed = parse_line("\x1b]0;title\x1b[31mred", DEFAULT_STATE)
    assert parsed.runs == (Run(0, "red", RED),)


def test_tabs_expand_to_stops_counted_from_the_line_start() -> None:
    assert display_text("ab\tc\x1b[31m\td") == "ab      c       d"
    parsed = parse_line("ab\tc\x1b[31m\td", DEFAULT_STATE)
    assert parsed.runs == (Run(0, "ab      c", DEFAULT_STATE), Run(9, "       d", RED))


def test_the_tracker_carries_state_from_line_to_line() -> None:
    lines = ["plain", "\x1b[32mgreen", "still green", "\x1b[1mbold too\x1b[0m", "plain again"]
    states, end = SgrTracker().line_states(lines, DEFAULT_STATE)
    green = SgrState(fg=2)
    assert states == [DEFAULT_STATE, DEFAULT_STATE, green, green, DEFAULT_STATE]
    assert end == DEFAULT_STATE


def test_the_tracker_handles_text_with_many_sequences() -> None:
    text = "\x1b[31mx\x1b[0m" * 50 + "\x1b[1m" + "\x1b[4my" * 40
    assert SgrTracker().advance(DEFAULT_STATE, text) == SgrState(bold=True, underline=True)
    text = "\x1b[1m" + "\x1b[3my" * 40
    assert SgrTracker().advance(RED, text) == RED._replace(bold=True, italic=True)


# Lines made of text, SGR and other escapes, tabs and control characters.
_pieces = st.sampled_from(
    [
        "a",
        "word ",
        "\t",
        "\x1b[0m",
        "\x1b[m",
        "\x1b[1m",
        "\x1b[31m",
        "\x1b[1;32m",
        "\x1b[0;33m",
        "\x1b[22m",
        "\x1b[38;5;200m",
        "\x1b[48;2;1;2;3m",
        "\x1b[38:2::4:5:6m",
        "\x1b[7m",
        "\x1b[K",
        "\x1b[?25l",
        "\x1b]0;t\x07",
        "\x1b(B",
        "\x07",
        "\x1b",
        "\x1b[",
        "[3",
        "1m",
    ]
)
_lines = st.lists(_pieces, max_size=30).map("".join)
_states = st.lists(st.sampled_from(["1", "31", "42", "38;5;9", "7", "0"]), max_size=4).map(
    lambda params: fold_sgr(DEFAULT_STATE, params)
)


@given(line=_lines, state=_states)
def test_ingest_tracking_and_paint_parsing_agree(line: str, state: SgrState) -> None:
    # The state stored at ingest must be the one painting would reach, or
    # colours would change as rows scroll into view.
    tracker = SgrTracker()
    assert tracker.advance(state, line) == parse_line(line, state).end_state
    # And again from the memo.
    assert tracker.advance(state, line) == parse_line(line, state).end_state


@given(line=_lines, state=_states)
def test_runs_cover_the_shown_text_exactly(line: str, state: SgrState) -> None:
    parsed = parse_line(line, state)
    assert parsed.text == display_text(line)
    assert "".join(run.text for run in parsed.runs) == parsed.text
    column = 0
    for run in parsed.runs:
        assert run.column == column
        column += len(run.text)
    assert "\x1b" not in parsed.text


# Lines a coloured flood is made of: text and SGR only (the parser's fast path).
_sgr_lines = st.lists(
    st.sampled_from(
        [
            "a",
            "word ",
            "\t",
            "\x1b[0m",
            "\x1b[m",
            "\x1b[1m",
            "\x1b[31m",
            "\x1b[22m",
            "\x1b[38;5;200m",
            "\x1b[48;2;1;2;3m",
            "\x1b[38:2::4:5:6m",
            "\x1b[7m",
            "\x1b[32m",
        ]
    ),
    max_size=30,
).map("".join)


@given(line=st.one_of(_sgr_lines, _lines), state=_states)
@example(line="", state=DEFAULT_STATE)
@example(line="\x1b[31m\x1b[0m\x1b[31mred", state=DEFAULT_STATE)
@example(line="a\x1b[1m\x1b[22mb", state=RED)
def test_the_fast_parser_gives_what_the_general_one_gives(line: str, state: SgrState) -> None:
    # Lines of text and SGR only take a shortcut at paint; it must find the
    # same runs, shown text and end state as the full tokenizer.
    assert parse_line(line, state) == _parse_general(line, state)
    assert parse_line(line, state) == parse_line(line, state)  # and from the memo


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("10%\r50%\r100%", "100%"),
        ("done\r", "done"),  # a trailing CR before the newline: nothing overwrote it
        ("abc\r\x1b[Kxy", "xy"),
        ("\r\rtext", "text"),
        ("no carriage return", "no carriage return"),
    ],
)
def test_a_rewritten_line_shows_its_last_rewrite(raw: str, shown: str) -> None:
    assert display_text(overwrite_carriage_returns(raw)) == shown


def test_a_trailing_carriage_return_is_kept_for_the_next_rewrite() -> None:
    open_line = overwrite_carriage_returns("build 1/3\r")
    assert display_text(overwrite_carriage_returns(open_line + "build 2/3\r")) == "build 2/3"


@given(parts=st.lists(_lines, min_size=1, max_size=5), state=_states)
# Found by this test: a sequence cut by a carriage return is none, kept or dropped.
@example(parts=["\x1b[", "1m", "a"], state=SgrState())
def test_overwriting_keeps_the_colour_of_dropped_rewrites(
    parts: list[str], state: SgrState
) -> None:
    raw = "\r".join(parts)
    kept = overwrite_carriage_returns(raw)
    assert parse_line(kept, state).end_state == parse_line(raw, state).end_state
    assert kept.count("\x1b[") <= raw.count("\x1b[") + 1


def test_colour_set_before_a_rewrite_still_applies() -> None:
    kept = overwrite_carriage_returns("\x1b[32m 10%\r\x1b[1m 50%\r 100%")
    assert parse_line(kept, DEFAULT_STATE).runs == (Run(0, " 100%", SgrState(fg=2, bold=True)),)


def test_long_lines_are_cut_outside_escape_sequences() -> None:
    line = ("x" * 7 + "\x1b[38;5;100m") * 50
    pieces = split_long_line(line, 16)
    assert "".join(pieces) == line
    assert all(len(piece) <= 16 for piece in pieces)
    for piece in pieces:
        # Each piece parses on its own into text only: no sequence was cut.
        assert set(display_text(piece)) <= {"x"}
        assert "[" not in display_text(piece)


def test_the_parse_cache_returns_what_parsing_returns_and_stays_bounded() -> None:
    cache = ParseCache(capacity=4)
    for number in range(20):
        line = f"\x1b[3{number % 8}mline {number}"
        assert cache.get(line, DEFAULT_STATE) == parse_line(line, DEFAULT_STATE)
    assert len(cache._young) + len(cache._old) <= 8


def test_the_tracker_keeps_one_object_per_distinct_state() -> None:
    # The ring keeps a state per line; equal states are one object, so lines
    # of varied colours do not each add an object for the collector to scan.
    tracker = SgrTracker()
    lines = [f"\x1b[0m\x1b[3{n % 3}m{n}" for n in range(300)]
    lines += [f"\x1b[{30 + n % 3}mx\x1b[1m\x1b[22m" for n in range(300)]
    states, _ = tracker.line_states(lines, DEFAULT_STATE)
    assert len({id(state) for state in states}) == len(set(states)) == 4
    assert states[1:4] == [SgrState(fg=0), SgrState(fg=1), SgrState(fg=2)]
