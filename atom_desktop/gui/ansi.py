"""ANSI escape handling for the console view: SGR colours in, plain text out (no Qt).

A child's output is stored raw. Two things are derived from it, at different
times, because they cost very different amounts:

* At ingest, for every line, only the SGR state at its start (colours and
  attributes carried over from earlier lines). :class:`SgrTracker` does this
  with one C-level ``in`` test per line and a memoised fold for the lines
  that do contain ``ESC [``; lines of plain output cost nothing.
* At paint, for the few visible rows only, :func:`parse_line` splits a line
  into styled runs; :class:`ParseCache` keeps recent results.

Every other escape sequence (cursor moves, erase, OSC titles and links,
charset selection, private modes) and every stray control character is
removed, never shown. A line rewritten with carriage returns (a progress bar)
keeps only its last rewrite: :func:`overwrite_carriage_returns`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

# A colour is a palette index (0-15 the basic and bright colours, 16-255 the
# xterm cube and grey ramp) or a 24-bit (red, green, blue) triple.
Colour = int | tuple[int, int, int]

TAB_WIDTH: Final = 8
# A bounded number of SGR sequences taken into one memo key; a longer line is
# folded without the memo (it is rare and would make a huge key).
_MEMO_KEY_MAX: Final = 32


class SgrState(NamedTuple):
    """Colours and attributes in force at some point of the output (immutable, hashable)."""

    fg: Colour | None = None
    bg: Colour | None = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    inverse: bool = False
    strike: bool = False


DEFAULT_STATE: Final = SgrState()


class Run(NamedTuple):
    """A stretch of a shown line in one style; ``column`` is where it starts."""

    column: int
    text: str
    state: SgrState


class ParsedLine(NamedTuple):
    """A raw line as shown: its text (escapes gone, tabs expanded) and its styled runs."""

    text: str
    runs: tuple[Run, ...]
    end_state: SgrState


# Only a CSI whose parameters are digits, ';' and ':' and whose final byte is
# 'm' is SGR; "ESC [ > 4 ; 2 m" (a private mode) is not. _CONTROL below
# recognises exactly the same sequences as SGR, so the state tracked at
# ingest and the state used at paint always agree.
_SGR: Final = re.compile(r"\x1b\[([0-9;:]*)m")
_SGR_PARAM_CHARS: Final = "0123456789;:"

_CONTROL: Final = re.compile(
    r"""
      \x1b\[ (?P<params>[\x30-\x3f]*) (?P<inter>[\x20-\x2f]*) (?P<final>[\x40-\x7e]|\Z)
        # CSI (SGR, cursor moves, erase, modes), or one cut short by the end of the text
    | \x1b[\]PX^_] [^\x07\x1b]* (?:\x07|\x1b\\|(?=\x1b)|\Z)
        # OSC (titles, links), DCS, SOS, PM, APC: up to BEL or ST
    | \x1b [\x20-\x2f]* (?:[\x30-\x7e]|\Z)
        # the short escapes: charsets, keypad modes, save/restore cursor, ...
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]
        # any other control character (tab and newline are kept); C1 included
    """,
    re.VERBOSE,
)


def _is_reset(params: str) -> bool:
    return params in ("", "0") or params.startswith("0;")


def _number(field: str) -> int:
    return int(field) if field.isdigit() else 0


def _byte(field: str) -> int:
    return min(_number(field), 255)


def _extended_colour(values: Sequence[str]) -> tuple[Colour | None, int]:
    """Read ``5;N`` or ``2;R;G;B`` (after a 38/48/58); return the colour and fields used."""
    if not values:
        return None, 0
    mode = _number(values[0])
    if mode == 5 and len(values) >= 2:
        return _byte(values[1]), 2
    if mode == 2 and len(values) >= 4:
        return (_byte(values[1]), _byte(values[2]), _byte(values[3])), 4
    # Malformed: like xterm, give up on the rest of the sequence.
    return None, len(values)


# Positions of the fields in SgrState.
_FG, _BG, _BOLD, _DIM, _ITALIC, _UNDERLINE, _INVERSE, _STRIKE = range(8)

# SGR codes that set fields to fixed values: code -> ((field, value), ...).
# 58 (underline colour), blink, conceal, fonts, overline, ... are ignored.
_FIXED: Final[dict[int, tuple[tuple[int, Colour | bool | None], ...]]] = {
    1: ((_BOLD, True),),
    2: ((_DIM, True),),
    3: ((_ITALIC, True),),
    4: ((_UNDERLINE, True),),
    7: ((_INVERSE, True),),
    9: ((_STRIKE, True),),
    21: ((_UNDERLINE, True),),  # double underline
    22: ((_BOLD, False), (_DIM, False)),
    23: ((_ITALIC, False),),
    24: ((_UNDERLINE, False),),
    27: ((_INVERSE, False),),
    29: ((_STRIKE, False),),
    39: ((_FG, None),),
    49: ((_BG, None),),
    **{30 + n: ((_FG, n),) for n in range(8)},
    **{40 + n: ((_BG, n),) for n in range(8)},
    **{90 + n: ((_FG, 8 + n),) for n in range(8)},
    **{100 + n: ((_BG, 8 + n),) for n in range(8)},
}


def apply_sgr(state: SgrState, params: str) -> SgrState:
    """The state after one SGR sequence ``ESC [ params m`` (``params`` like ``"1;31"``)."""
    if params in ("", "0"):
        return DEFAULT_STATE
    values: list[Colour | bool | None] = list(state)
    fields = params.split(";")
    i = 0
    while i < len(fields):
        field = fields[i]
        i += 1
        if ":" in field:
            _apply_sub_parameters(values, field.split(":"))
            continue
        code = _number(field)
        fixed = _FIXED.get(code)
        if fixed is not None:
            for index, value in fixed:
                values[index] = value
        elif code == 0:
            values = list(DEFAULT_STATE)
        elif code in (38, 48, 58):
            colour, used = _extended_colour(fields[i:])
            i += used
            if code != 58:
                values[_FG if code == 38 else _BG] = colour
    return SgrState._make(values)


def _apply_sub_parameters(values: list[Colour | bool | None], sub: list[str]) -> None:
    # ITU T.416 form: "38:2::R:G:B" (with an empty colour-space id),
    # "38:2:R:G:B", "38:5:N"; and "4:3" (curly underline), "4:0" (none).
    code = _number(sub[0])
    if code in (38, 48, 58):
        rest = sub[1:]
        if len(rest) == 5 and _number(rest[0]) == 2:
            rest = [rest[0], *rest[2:]]
        colour, _ = _extended_colour(rest)
        if code != 58:
            values[_FG if code == 38 else _BG] = colour
    elif code == 4:
        values[_UNDERLINE] = len(sub) < 2 or _number(sub[1]) != 0


def fold_sgr(state: SgrState, params: Iterable[str]) -> SgrState:
    """Apply SGR parameter strings in order."""
    for one in params:
        state = apply_sgr(state, one)
    return state


def _fold_from_last_reset(state: SgrState, params: list[str]) -> SgrState:
    # A reset forgets everything before it, so a long line (or a whole skipped
    # chunk) only needs folding from its last reset on.
    for index in range(len(params) - 1, -1, -1):
        if _is_reset(params[index]):
            return fold_sgr(DEFAULT_STATE, params[index:])
    return fold_sgr(state, params)


class SgrTracker:
    """Carries the SGR state from line to line at ingest, as cheaply as possible.

    The fold of a line's SGR sequences is memoised by (state, sequences):
    coloured output repeats the same few patterns ("ESC[32mINFO ESC[0m"), so
    after a few lines nearly every line is a dictionary hit.
    """

    def __init__(self, memo_size: int = 4096) -> None:
        self._memo: dict[tuple[SgrState, tuple[str, ...]], SgrState] = {}
        self._memo_size = memo_size
        # One object per distinct state: the ring keeps a state per line, and
        # a named tuple stays tracked by the garbage collector (unlike a plain
        # tuple of numbers), so every copy kept makes each full collection
        # longer. Output with varied colours folds to equal states often.
        self._states: dict[SgrState, SgrState] = {DEFAULT_STATE: DEFAULT_STATE}

    def _one(self, state: SgrState) -> SgrState:
        found = self._states.get(state)
        if found is None:
            if len(self._states) >= self._memo_size:
                self._states = {DEFAULT_STATE: DEFAULT_STATE}
            self._states[state] = found = state
        return found

    def advance(self, state: SgrState, text: str) -> SgrState:
        """The state after ``text`` (any length, any number of lines), given the state before."""
        # A reset forgets everything before it, and most coloured output
        # resets after each coloured word: look from the last plain reset on
        # (C-level searches, no regex, no allocation in the common case).
        reset = max(text.rfind("\x1b[0m"), text.rfind("\x1b[m"))
        if reset >= 0:
            after = text.find("\x1b[", reset + 3)
            if after < 0:
                return DEFAULT_STATE
            state, text = DEFAULT_STATE, text[after:]
        params = _SGR.findall(text)
        if not params:
            return state
        if len(params) > _MEMO_KEY_MAX:
            return self._one(_fold_from_last_reset(state, params))
        key = (state, tuple(params))
        found = self._memo.get(key)
        if found is None:
            found = self._one(_fold_from_last_reset(state, params))
            if len(self._memo) >= self._memo_size:
                self._memo.clear()
            self._memo[key] = found
        return found

    def line_states(self, lines: Sequence[str], state: SgrState) -> tuple[list[SgrState], SgrState]:
        """The state at the start of each line, and the state after the last one."""
        states: list[SgrState] = []
        add = states.append
        advance = self.advance
        for line in lines:
            add(state)
            if "\x1b[" in line:
                state = advance(state, line)
        return states, state


def display_text(line: str) -> str:
    """What a raw line shows: escape sequences and control characters removed, tabs expanded."""
    shown = _CONTROL.sub("", line)
    return shown.expandtabs(TAB_WIDTH) if "\t" in shown else shown


def _expand_tabs(text: str, column: int) -> str:
    # Tab stops count from the start of the line, not of this run.
    offset = column % TAB_WIDTH
    return (" " * offset + text).expandtabs(TAB_WIDTH)[offset:]


# Any control character (ESC included) other than tab and newline: a line
# whose text between its SGR sequences has none is parsed by the fast path.
_ANY_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# SGR folds seen at paint, by (state, parameters): coloured output repeats
# the same few, so painting a screen of new rows is mostly dictionary hits.
_APPLIED: dict[tuple[SgrState, str], SgrState] = {}
_APPLIED_MAX: Final = 4096


def _apply_memoised(state: SgrState, params: str) -> SgrState:
    key = (state, params)
    found = _APPLIED.get(key)
    if found is None:
        found = apply_sgr(state, params)
        if len(_APPLIED) >= _APPLIED_MAX:
            _APPLIED.clear()
        _APPLIED[key] = found
    return found


def parse_line(line: str, state: SgrState) -> ParsedLine:
    """Split a raw line into styled runs, starting from ``state`` (the state at its start)."""
    if "\x1b" not in line and not _ANY_CONTROL.search(line):
        text = line.expandtabs(TAB_WIDTH) if "\t" in line else line
        return ParsedLine(text, (Run(0, text, state),) if text else (), state)
    pieces = _SGR.split(line)
    # pieces alternate: text, SGR parameters, text, ... If the text left
    # between the SGR sequences holds no other escape or control character,
    # the runs are those texts; painting a screen of new coloured rows (a
    # flood) costs one C-level split per row instead of a regex match and a
    # Python call per sequence.
    if _ANY_CONTROL.search("".join(pieces[::2])):
        return _parse_general(line, state)
    runs: list[Run] = []
    shown: list[str] = []
    column = 0
    for index in range(0, len(pieces), 2):
        if index:
            state = _apply_memoised(state, pieces[index - 1])
        text = pieces[index]
        if not text:
            continue
        if "\t" in text:
            text = _expand_tabs(text, column)
        if runs and runs[-1].state == state:
            last = runs[-1]
            runs[-1] = Run(last.column, last.text + text, state)
        else:
            runs.append(Run(column, text, state))
        shown.append(text)
        column += len(text)
    return ParsedLine("".join(shown), tuple(runs), state)


def _parse_general(line: str, state: SgrState) -> ParsedLine:
    """:func:`parse_line` for a line with escapes other than SGR or stray control characters."""
    runs: list[Run] = []
    column = 0
    position = 0
    pieces: list[str] = []

    def add(text: str) -> None:
        nonlocal column
        if not text:
            return
        if "\t" in text:
            text = _expand_tabs(text, column)
        if runs and runs[-1].state == state:
            # Stray controls and non-SGR escapes split nothing visible.
            last = runs[-1]
            runs[-1] = Run(last.column, last.text + text, state)
        else:
            runs.append(Run(column, text, state))
        pieces.append(text)
        column += len(text)

    for match in _CONTROL.finditer(line):
        add(line[position : match.start()])
        position = match.end()
        params = match.group("params")
        if (
            match.group("final") == "m"
            and not match.group("inter")
            and not params.strip(_SGR_PARAM_CHARS)
        ):
            state = apply_sgr(state, params)
    add(line[position:])
    return ParsedLine("".join(pieces), tuple(runs), state)


class ParseCache:
    """Recently parsed lines, keyed by (raw line, start state); bounded, two generations.

    Python caches a string's hash, so a hit costs a dictionary lookup. Rows
    repainted while scrolling or while new output arrives below are hits. A
    few screens' worth is enough, and keeping it small keeps the collector's
    work small (the entries are tuples it must track).
    """

    def __init__(self, capacity: int = 512) -> None:
        self._young: dict[tuple[str, SgrState], ParsedLine] = {}
        self._old: dict[tuple[str, SgrState], ParsedLine] = {}
        self._capacity = capacity

    def get(self, line: str, state: SgrState) -> ParsedLine:
        """The parsed line, from the cache when it is there."""
        key = (line, state)
        found = self._young.get(key)
        if found is None:
            found = self._old.get(key)
            if found is None:
                found = parse_line(line, state)
            if len(self._young) >= self._capacity:
                self._old, self._young = self._young, {}
            self._young[key] = found
        return found

    def clear(self) -> None:
        """Forget everything."""
        self._young.clear()
        self._old.clear()


def _state_patch(params: list[str]) -> str:
    """One SGR parameter string with the same effect as ``params`` applied in order.

    The net effect is found by applying them to two states that differ in
    every field: a field that ends equal in both was set, one that still
    differs was left alone.
    """
    low = fold_sgr(DEFAULT_STATE, params)
    high = fold_sgr(SgrState((1, 2, 3), (1, 2, 3), True, True, True, True, True, True), params)
    if low == high:
        # A reset was among them, so every field was set: say it as a reset
        # followed by what differs from the default.
        touched = [value != default for value, default in zip(low, DEFAULT_STATE, strict=True)]
        return ";".join(["0", *_sgr_codes(low, touched)])
    return ";".join(_sgr_codes(low, [a == b for a, b in zip(low, high, strict=True)]))


def _sgr_codes(state: SgrState, touched: list[bool]) -> list[str]:
    """SGR codes that set the ``touched`` fields of ``state`` and leave the others alone."""
    fg_set, bg_set, bold_set, dim_set, *flags_set = touched
    codes: list[str] = []
    if (bold_set and not state.bold) or (dim_set and not state.dim):
        # 22 is the only way to turn bold or dim off, and it turns off both
        # (so both were set); then the one that is on goes back on.
        codes.append("22")
    if bold_set and state.bold:
        codes.append("1")
    if dim_set and state.dim:
        codes.append("2")
    flags = (state.italic, state.underline, state.inverse, state.strike)
    for is_set, on, (on_code, off_code) in zip(
        flags_set, flags, (("3", "23"), ("4", "24"), ("7", "27"), ("9", "29")), strict=True
    ):
        if is_set:
            codes.append(on_code if on else off_code)
    if fg_set:
        codes.append(_colour_code(state.fg, 30))
    if bg_set:
        codes.append(_colour_code(state.bg, 40))
    return codes


def _colour_code(colour: Colour | None, base: int) -> str:
    if colour is None:
        return str(base + 9)
    if isinstance(colour, tuple):
        return f"{base + 8};2;{colour[0]};{colour[1]};{colour[2]}"
    if colour < 8:
        return str(base + colour)
    if colour < 16:
        return str(base + 60 + colour - 8)
    return f"{base + 8};5;{colour}"


def overwrite_carriage_returns(text: str) -> str:
    """Keep what a terminal shows last of a line rewritten with carriage returns.

    ``"10%\\r50%\\r100%"`` becomes ``"100%"``: the last non-empty rewrite. The
    SGR sequences of the dropped rewrites still count (one may have set the
    colour of what follows), so their net effect is kept as one sequence in
    front. A trailing carriage return is kept: the next text of the same line
    overwrites what is there now.
    """
    if "\r" not in text:
        return text
    parts = text.split("\r")
    last = len(parts) - 1
    while last > 0 and not parts[last]:
        last -= 1
    kept = parts[last]
    if last > 0:
        # Joined with the carriage returns: a sequence cut by one ("\x1b[" CR
        # "1m") is no sequence to the parser, and must not become one here.
        dropped = _SGR.findall("\r".join(parts[:last]))
        if dropped:
            kept = f"\x1b[{_state_patch(dropped)}m{kept}"
    return kept + "\r" if text.endswith("\r") else kept


def split_long_line(line: str, limit: int) -> list[str]:
    """Cut a line into pieces of at most ``limit`` characters, never inside an escape sequence."""
    pieces: list[str] = []
    start = 0
    while len(line) - start > limit:
        cut = start + limit
        escape = line.rfind("\x1b", max(start + 1, cut - 64), cut)
        if escape > start:
            # A sequence starting this close to the cut may run past it: move
            # it whole to the next piece (escapes are shorter than 64 bytes).
            cut = escape
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return pieces
