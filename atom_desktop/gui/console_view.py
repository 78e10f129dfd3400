"""A console that shows a run's live output and keeps up with a flood of it.

The design is the one RECIPES.md measured as the only one faster than xterm:

* Output is kept as raw lines in a bounded ring (three ``deque(maxlen=N)``
  extended in lockstep: text, stream, SGR state at the line's start). Ingest
  does O(lines) work in C (``split``, ``deque.extend``, ``repeat``) plus one
  memoised fold per line that carries an SGR sequence.
* ``append`` only queues the text. The queue is ingested by a zero-interval
  timer in slices of a few milliseconds, so however much arrives in one go
  (a burst of queued signals, a 1 MiB batch), the Qt loop runs between
  slices. If the queue alone holds more complete lines than the ring can
  keep, its oldest entries are skipped without being split into lines: only
  their effect on the open partial line and on the SGR state is kept, which
  is exactly what ingesting them and evicting their lines would leave.
* Painting turns SGR into colours only for the visible rows (memoised), and
  layout plus repaint run at most ~60 times a second. While output arrives,
  a frame is painted a band of rows per turn of the Qt loop, and an ingest
  slice after a paint is shorter by what the paint took, so neither one
  long paint nor a paint plus a slice holds the loop for a frame's time.

Threading: every method is for the Qt (GUI) thread. Feed it through queued
signals; hand over text as it comes (chunks, not lines).
"""

from __future__ import annotations

import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import repeat
from typing import Final, NamedTuple

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QClipboard,
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from atom_desktop.gui.ansi import (
    DEFAULT_STATE,
    Colour,
    ParseCache,
    SgrState,
    SgrTracker,
    display_text,
    overwrite_carriage_returns,
    split_long_line,
)

STDOUT: Final = 0
STDERR: Final = 1
NOTICE: Final = 2
_STREAMS: Final = {"stdout": STDOUT, "stderr": STDERR}

# Longer lines are cut into rows of this many characters (as a terminal
# wraps them), so one row never costs more than this to parse or paint and a
# child that never prints a newline cannot grow one line without bound.
MAX_LINE_CHARS: Final = 8192
# A larger append is queued as pieces of this size, so one ingest step is
# bounded whatever the caller hands over.
PIECE_CHARS: Final = 64 * 1024
# Ingest takes at most this much of a queued piece at a time (cut after a
# newline), then looks at the clock: 64 KiB of densely coloured lines costs
# more than a whole slice to fold, so a piece taken whole overran its slice.
STEP_CHARS: Final = 8 * 1024
# Queued text beyond this is skipped as it arrives, when what follows it
# fills the ring anyway (normally ingest does that, in its slices).
MAX_BACKLOG_CHARS: Final = 64 * 1024 * 1024
# Ingest runs in slices of at most this long, then lets the Qt loop run. A
# turn of the loop may also paint: a slice after a paint is shorter by what
# the paint took, never shorter than MIN_SLICE_S (so ingest always gets on).
# Paint and slice together then stay well inside one 60 Hz frame.
INGEST_SLICE_S: Final = 0.004
MIN_SLICE_S: Final = 0.001
# Layout and repaint at most this often (~60 Hz).
FRAME_MS: Final = 16
# A frame drawn while output arrives is painted this many rows per turn of
# the Qt loop: a screen of new, densely coloured rows costs several
# milliseconds to draw, too long to be one uninterrupted block. The bands
# show the rows the frame was laid out with, so they join up. A frame whose
# predecessor painted in less than BANDS_FROM_S is painted whole: plain rows
# are cheap, and each band costs a paint event of Qt's own work besides.
BAND_ROWS: Final = 8
BANDS_FROM_S: Final = 0.003

# Left gutter: the stderr marker bar, then a little padding before the text.
MARKER_WIDTH: Final = 3
GUTTER: Final = 7
_END: Final = sys.maxsize

# The 16 basic colours, one set for dark backgrounds and one for light ones,
# so that e.g. yellow stays readable on white.
_DARK_16: Final = (
    (0x4D, 0x4D, 0x4D), (0xF1, 0x4C, 0x4C), (0x23, 0xD1, 0x8B), (0xE5, 0xE5, 0x10),
    (0x3B, 0x8E, 0xEA), (0xD6, 0x70, 0xD6), (0x29, 0xB8, 0xDB), (0xD8, 0xD8, 0xD8),
    (0x80, 0x80, 0x80), (0xFF, 0x6E, 0x6E), (0x5A, 0xF7, 0x8E), (0xF4, 0xF9, 0x9D),
    (0x6D, 0xA8, 0xFF), (0xFF, 0x92, 0xDF), (0x9A, 0xED, 0xFE), (0xFF, 0xFF, 0xFF),
)  # fmt: skip
_LIGHT_16: Final = (
    (0x00, 0x00, 0x00), (0xC0, 0x1C, 0x1C), (0x10, 0x7C, 0x10), (0x8A, 0x60, 0x00),
    (0x04, 0x51, 0xA5), (0xA3, 0x1C, 0xA3), (0x06, 0x7D, 0x96), (0x6E, 0x6E, 0x6E),
    (0x55, 0x55, 0x55), (0xE0, 0x30, 0x30), (0x14, 0xA0, 0x14), (0xB5, 0x89, 0x00),
    (0x2A, 0x6F, 0xDB), (0xC8, 0x3C, 0xC8), (0x0A, 0x9B, 0xB5), (0x40, 0x40, 0x40),
)  # fmt: skip
_CUBE: Final = (0, 95, 135, 175, 215, 255)
_STDERR_RED: Final = QColor(0xE5, 0x39, 0x35)


class StyledRun(NamedTuple):
    """A stretch of a row as the painter draws it."""

    column: int
    text: str
    foreground: QColor
    background: QColor | None
    font: QFont


class _Style(NamedTuple):
    foreground: QColor
    background: QColor | None
    font: QFont


@dataclass
class _Selection:
    anchor: tuple[int, int]  # (absolute row, column) where the drag started
    cursor: tuple[int, int]  # where it is now
    whole_lines: bool

    def bounds(self) -> tuple[tuple[int, int], tuple[int, int]]:
        start, end = sorted((self.anchor, self.cursor))
        if self.whole_lines:
            return (start[0], 0), (end[0], _END)
        return start, end

    def columns(self, row: int) -> tuple[int, int] | None:
        """The selected column range of ``row``, if any of it is selected."""
        (first_row, first_col), (last_row, last_col) = self.bounds()
        if not first_row <= row <= last_row:
            return None
        low = first_col if row == first_row else 0
        high = last_col if row == last_row else _END
        return (low, high) if low < high else None


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    keep = 1.0 - amount
    return QColor(
        round(a.red() * keep + b.red() * amount),
        round(a.green() * keep + b.green() * amount),
        round(a.blue() * keep + b.blue() * amount),
    )


class _OutputRing:
    """The bounded ring of lines, the open partial lines and the ingest queue (no Qt)."""

    def __init__(self, max_lines: int) -> None:
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, not {max_lines}")
        self.max_lines = max_lines
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.kinds: deque[int] = deque(maxlen=max_lines)
        self.states: deque[SgrState] = deque(maxlen=max_lines)
        # Absolute number of lines[0] (lines evicted before it, counted).
        self.first = 0
        # Widest plain line seen (raw length; lines with escapes are measured
        # when painted instead): the horizontal scroll range.
        self.max_columns = 0
        self.pending_chars = 0
        self.skipped_lines = 0
        # Per stream: the line not yet ended by a newline, and the SGR state at its start.
        self._open = ["", ""]
        self._open_state = [DEFAULT_STATE, DEFAULT_STATE]
        self._pending: deque[tuple[int, str, int]] = deque()
        self._pending_newlines = 0
        self._tracker = SgrTracker()

    # -- reading --------------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self.lines) + (self._open[STDOUT] != "") + (self._open[STDERR] != "")

    def row(self, index: int) -> tuple[str, int, SgrState]:
        """Row ``index`` (0 = oldest kept): raw text, stream kind, SGR state at its start."""
        count = len(self.lines)
        if index < count:
            return self.lines[index], self.kinds[index], self.states[index]
        for kind in (STDOUT, STDERR):
            if self._open[kind]:
                if index == count:
                    return self._open[kind], kind, self._open_state[kind]
                count += 1
        raise IndexError(index)

    def texts(self) -> list[str]:
        """Every row's raw text, oldest first (a snapshot: C-level copies)."""
        texts = list(self.lines)
        texts.extend(line for line in self._open if line)
        return texts

    def rows(self) -> Iterator[tuple[str, int, SgrState]]:
        yield from zip(self.lines, self.kinds, self.states, strict=True)
        for kind in (STDOUT, STDERR):
            if self._open[kind]:
                yield self._open[kind], kind, self._open_state[kind]

    # -- queueing ---------------------------------------------------------------------------

    def push(self, kind: int, text: str) -> None:
        """Queue text of one stream (or one notice line) for ingest."""
        if kind == NOTICE:
            self._queue(kind, text, 1)
        elif len(text) <= 2 * PIECE_CHARS:
            self._queue(kind, text, text.count("\n"))
        else:
            for start in range(0, len(text), PIECE_CHARS):
                piece = text[start : start + PIECE_CHARS]
                self._queue(kind, piece, piece.count("\n"))

    def _queue(self, kind: int, text: str, newlines: int) -> None:
        pending = self._pending
        pending.append((kind, text, newlines))
        self._pending_newlines += newlines
        self.pending_chars += len(text)
        # Skipping is normally left to ingest (it costs a scan of the text).
        # Only a caller that outruns ingest for long pays for it here, so the
        # queue cannot grow without bound.
        while (
            self.pending_chars > MAX_BACKLOG_CHARS
            and len(pending) > 1
            and self._pending_newlines - pending[0][2] >= self.max_lines
        ):
            self._take_skipped()

    def _take_skipped(self) -> None:
        kind, text, newlines = self._pending.popleft()
        self._pending_newlines -= newlines
        self.pending_chars -= len(text)
        self._skip(kind, text, newlines)

    def ingest(self, deadline: float | None) -> bool:
        """Ingest queued text until done or past ``deadline``; True if some is left."""
        pending = self._pending
        while pending:
            kind, text, newlines = pending.popleft()
            self._pending_newlines -= newlines
            self.pending_chars -= len(text)
            if self._pending_newlines >= self.max_lines:
                # What is queued after this entry fills the ring on its own:
                # its lines would all be evicted, so don't build them.
                self._skip(kind, text, newlines)
            elif kind == NOTICE:
                self._add_notice(text)
            else:
                if len(text) > STEP_CHARS:
                    text = self._take_step(kind, text)
                self._add_text(kind, text)
            if deadline is not None and time.perf_counter() >= deadline:
                break
        return bool(pending)

    def _take_step(self, kind: int, text: str) -> str:
        """Keep about STEP_CHARS of ``text`` (up to a newline) and queue the rest first again."""
        cut = text.rfind("\n", 0, STEP_CHARS) + 1
        if cut <= 0:
            # One long line: any cut works, the open line joins the pieces
            # (and _set_open cuts it into rows outside escape sequences).
            cut = STEP_CHARS
        rest = text[cut:]
        newlines = rest.count("\n")
        self._pending.appendleft((kind, rest, newlines))
        self._pending_newlines += newlines
        self.pending_chars += len(rest)
        return text[:cut]

    # -- ingest ----------------------------------------------------------------------------

    def _add_text(self, kind: int, text: str) -> None:
        head = self._open[kind]
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        if head:
            lines[0] = head + lines[0]
        tail = lines.pop()
        if lines:
            if "\r" in text or "\r" in head:
                lines = [overwrite_carriage_returns(x) if "\r" in x else x for x in lines]
            escapes = "\x1b" in text or "\x1b" in head
            self._open_state[kind] = self._extend(kind, lines, self._open_state[kind], escapes)
            self._open[kind] = ""
        self._set_open(kind, tail)

    def _set_open(self, kind: int, line: str) -> None:
        if "\r" in line:
            line = overwrite_carriage_returns(line)
        if len(line) > MAX_LINE_CHARS:
            pieces = split_long_line(line, MAX_LINE_CHARS)
            line = pieces.pop()
            self._open_state[kind] = self._extend(kind, pieces, self._open_state[kind], True)
        self._open[kind] = line

    def _add_notice(self, text: str) -> None:
        # A notice ends the lines it interrupts: they are shown before it.
        for kind in (STDOUT, STDERR):
            if self._open[kind]:
                self._open_state[kind] = self._extend(
                    kind, [self._open[kind]], self._open_state[kind], True
                )
                self._open[kind] = ""
        self._extend(NOTICE, [text], DEFAULT_STATE, "\x1b" in text)

    def _extend(self, kind: int, lines: list[str], state: SgrState, escapes: bool) -> SgrState:
        """Add complete lines; return the SGR state after them."""
        widest = max(map(len, lines))
        if widest > MAX_LINE_CHARS:
            lines = [piece for line in lines for piece in split_long_line(line, MAX_LINE_CHARS)]
        count = len(lines)
        if escapes:
            states, state = self._tracker.line_states(lines, state)
            self.states.extend(states)
        else:
            self.states.extend(repeat(state, count))
            self.max_columns = max(self.max_columns, min(widest, MAX_LINE_CHARS))
        overflow = len(self.lines) + count - self.max_lines
        if overflow > 0:
            self.first += overflow
        self.lines.extend(lines)
        self.kinds.extend(repeat(kind, count))
        return state

    def _skip(self, kind: int, text: str, newlines: int) -> None:
        """Account for a queued entry whose lines would all be evicted, without building them."""
        self.skipped_lines += newlines
        if kind == NOTICE:
            for stream in (STDOUT, STDERR):
                self._forget_open(stream, "")
            return
        cut = text.rfind("\n")
        if cut < 0:
            self._set_open(kind, self._open[kind] + text)
            return
        self._forget_open(kind, text[:cut])
        self._set_open(kind, text[cut + 1 :])

    def _forget_open(self, kind: int, more: str) -> None:
        """End the open line of ``kind`` with ``more`` and drop it (and the lines in ``more``)."""
        gone = self._open[kind] + more
        if "\x1b" in gone:
            self._open_state[kind] = self._tracker.advance(self._open_state[kind], gone)
        self._open[kind] = ""


class ConsoleView(QAbstractScrollArea):
    """A virtualised, read-only view of a run's stdout and stderr with ANSI colours.

    Keeps at most ``max_lines`` lines (the scrollback); older ones are dropped.
    stderr rows have a red marker in the gutter, a red-tinted background and
    a reddish default colour; notices are muted italics. Drag to select
    characters (or lines, in the gutter; double-click selects a line);
    Ctrl+C copies, with nothing selected everything.

    Rows are laid out in cells of the fixed-width font: a wide (East Asian)
    character is drawn at its own width and may overlap what follows it.
    """

    followTailChanged = Signal(bool)  # noqa: N815 (a Qt signal: Qt's naming)

    def __init__(self, parent: QWidget | None = None, *, max_lines: int = 100_000) -> None:
        super().__init__(parent)
        self._ring = _OutputRing(max_lines)
        self._cache = ParseCache()
        self._styles: dict[tuple[SgrState, int], _Style] = {}
        self._colours: dict[Colour, QColor] = {}
        self._fonts: dict[tuple[bool, bool, bool, bool], QFont] = {}
        self._follow = True
        self._top = 0  # absolute row at the top when not following
        self._updating_scrollbars = False
        self._selection: _Selection | None = None
        self._dragging = False
        # Before setFont: its FontChange event lays out, which stops bands.
        self._band_timer = QTimer(self)
        self._band_timer.setSingleShot(True)
        self._band_timer.setInterval(0)
        self._band_timer.timeout.connect(self._paint_next_band)
        # Absolute row at the top of the frame being painted in bands (None:
        # paint from the scroll bar, as any other repaint does).
        self._band_top: int | None = None
        self._next_band = 0  # first viewport row of the next band
        self._painting_s = 0.0  # seconds spent painting since the last ingest slice
        self._frame_paint_s = 0.0  # seconds spent painting since the last frame began

        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._metrics = self._measure()
        self.setAccessibleName("Run output")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

        self._ingest_timer = QTimer(self)
        self._ingest_timer.setInterval(0)
        self._ingest_timer.timeout.connect(self._ingest_slice)
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self._frame)

    # -- feeding ---------------------------------------------------------------------------

    def append(self, text: str, stream: str = "stdout") -> None:
        """Add decoded output of ``stream`` ("stdout" or "stderr"); it may end mid-line.

        A partial last line stays open and is continued by the next append of
        the same stream. Cheap: the text is queued and ingested in slices.
        """
        kind = _STREAMS.get(stream)
        if kind is None:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        if text:
            self._ring.push(kind, text)
            self._wake()

    def append_notice(self, text: str) -> None:
        """Add a one-line marker in a muted style (ends any open partial lines first)."""
        self._ring.push(NOTICE, text.replace("\r", " ").replace("\n", " "))
        self._wake()

    def clear(self) -> None:
        """Drop all output, queued or shown."""
        self._ring = _OutputRing(self._ring.max_lines)
        self._cache.clear()
        self._selection = None
        self._top = 0
        self._ingest_timer.stop()
        self._layout()

    def flush(self) -> None:
        """Ingest everything appended so far and lay it out now (synchronously)."""
        self._drain()
        self._layout()

    def backlog(self) -> int:
        """Characters appended but not yet ingested (0 once the view has caught up)."""
        return self._ring.pending_chars

    def _wake(self) -> None:
        if not self._ingest_timer.isActive():
            self._ingest_timer.start()

    def _ingest_slice(self) -> None:
        budget = max(MIN_SLICE_S, INGEST_SLICE_S - self._painting_s)
        self._painting_s = 0.0
        if not self._ring.ingest(time.perf_counter() + budget):
            self._ingest_timer.stop()
        if not self._frame_timer.isActive():
            self._frame_timer.start()

    def _drain(self) -> None:
        self._ring.ingest(None)
        self._ingest_timer.stop()

    # -- reading ---------------------------------------------------------------------------

    def line_count(self) -> int:
        """Rows shown: complete lines kept, plus an open partial line per stream."""
        self._drain()
        return self._ring.row_count()

    def plain_text(self) -> str:
        """Every row as shown (escape sequences removed), joined by newlines."""
        self._drain()
        return "\n".join(display_text(text) for text, _, _ in self._ring.rows())

    def selected_text(self) -> str:
        """The selected text ("" if nothing is selected)."""
        self._drain()
        if self._selection is None:
            return ""
        ring = self._ring
        (first, _), (last, _) = self._selection.bounds()
        first = max(first, ring.first)
        last = min(last, ring.first + ring.row_count() - 1)
        parts = []
        for row in range(first, last + 1):
            columns = self._selection.columns(row)
            if columns is not None:
                text = display_text(ring.row(row - ring.first)[0])
                parts.append(text[columns[0] : columns[1]])
        return "\n".join(parts)

    def copy(self) -> None:
        """Copy the selection to the clipboard; with nothing selected, everything."""
        text = self.plain_text() if self._selection is None else self.selected_text()
        QGuiApplication.clipboard().setText(text)

    def styled_runs(self, row: int) -> list[StyledRun]:
        """What the painter draws for ``row`` (0 = oldest kept row), before selection."""
        self._drain()
        text, kind, state = self._ring.row(row)
        parsed = self._cache.get(text, state)
        result = []
        for run in parsed.runs:
            style = self._style(run.state, kind)
            result.append(StyledRun(run.column, run.text, *style))
        return result

    # -- following and finding ----------------------------------------------------------------

    @property
    def follow_tail(self) -> bool:
        """Whether the view keeps the newest output in sight."""
        return self._follow

    def set_follow_tail(self, follow: bool) -> None:
        """Keep the newest output in sight (True) or stay where the view is (False)."""
        if follow == self._follow:
            return
        self._follow = follow
        if not follow:
            self._top = self._ring.first + self.verticalScrollBar().value()
        self._layout()
        self.followTailChanged.emit(follow)

    # QWidget.find(WId) is a static lookup of a widget by window id that no
    # one calls on a console; this find is the console's own.
    def find(  # type: ignore[override]
        self, text: str, *, backwards: bool = False, case_sensitive: bool = False
    ) -> bool:
        """Select and scroll to the next match of ``text`` after the current one (wrapping).

        Returns False if there is none. Stops following the tail when it moves.
        """
        self._drain()
        rows = self._ring.row_count()
        if not text or rows == 0:
            return False
        pattern = re.compile(re.escape(text), 0 if case_sensitive else re.IGNORECASE)
        ring = self._ring
        top = self.verticalScrollBar().value()
        if self._selection is not None and self._selection.bounds()[0][0] >= ring.first:
            (row, column), _ = self._selection.bounds()
            row -= ring.first
            column += -1 if backwards else 1
        elif backwards:
            row = min(rows - 1, top + self._page_rows() - 1)
            column = _END
        else:
            row, column = min(top, rows - 1), 0
        found = _search(ring.texts(), pattern, row, column, backwards)
        if found is None:
            return False
        match_row, start, end = found
        absolute = ring.first + match_row
        self._selection = _Selection((absolute, start), (absolute, end), whole_lines=False)
        self.set_follow_tail(False)
        self._reveal(match_row, start, end)
        return True

    def _reveal(self, row: int, start: int, end: int) -> None:
        # The match's row may never have been painted (and measured) yet.
        self._ring.max_columns = max(self._ring.max_columns, end)
        self._layout()
        bar = self.verticalScrollBar()
        page = self._page_rows()
        if not bar.value() <= row < bar.value() + page:
            self._set_scrollbar(bar.setValue, max(0, row - page // 2))
            self._top = self._ring.first + bar.value()
        cell = self._metrics[2]
        hbar = self.horizontalScrollBar()
        left, right = start * cell, end * cell + GUTTER
        if left < hbar.value() or right > hbar.value() + self.viewport().width():
            self._set_scrollbar(hbar.setValue, max(0, left - self.viewport().width() // 3))
        self.viewport().update()

    # -- layout ------------------------------------------------------------------------------

    def _measure(self) -> tuple[int, int, int]:
        metrics = QFontMetrics(self.font())
        return (
            max(1, metrics.lineSpacing()),
            metrics.ascent(),
            max(1, metrics.horizontalAdvance("M")),
        )

    def _page_rows(self) -> int:
        return max(1, self.viewport().height() // self._metrics[0])

    def _set_scrollbar(self, setter: Callable[[int], None], value: int) -> None:
        self._updating_scrollbars = True
        try:
            setter(value)
        finally:
            self._updating_scrollbars = False

    def _frame(self) -> None:
        """The ~60 Hz frame while output arrives: fit the scroll bars, repaint (in bands)."""
        last_frame, self._frame_paint_s = self._frame_paint_s, 0.0
        if last_frame < BANDS_FROM_S:
            self._layout()
            return
        self._fit_scrollbars()
        self._band_top = self._ring.first + self.verticalScrollBar().value()
        self._next_band = 0
        self._paint_next_band()

    def _paint_next_band(self) -> None:
        if self._band_top is None:
            return
        line_height = self._metrics[0]
        viewport = self.viewport()
        top = self._next_band * line_height
        self._next_band += BAND_ROWS
        viewport.update(0, top, viewport.width(), BAND_ROWS * line_height)
        if self._next_band * line_height < viewport.height():
            self._band_timer.start()

    def _stop_bands(self) -> None:
        self._band_top = None
        self._band_timer.stop()

    def _layout(self) -> None:
        """Fit the scroll bars to the rows and repaint all of it now."""
        self._fit_scrollbars()
        self._stop_bands()
        self.viewport().update()

    def _fit_scrollbars(self) -> None:
        ring = self._ring
        _, _, cell = self._metrics
        page = self._page_rows()
        maximum = max(0, ring.row_count() - page)
        bar = self.verticalScrollBar()
        hbar = self.horizontalScrollBar()
        width = self.viewport().width()
        self._updating_scrollbars = True
        try:
            bar.setPageStep(page)
            bar.setRange(0, maximum)
            if self._follow:
                bar.setValue(maximum)
            else:
                bar.setValue(min(max(0, self._top - ring.first), maximum))
                self._top = ring.first + bar.value()
            hbar.setPageStep(width)
            hbar.setSingleStep(cell)
            hbar.setRange(0, max(0, GUTTER + (ring.max_columns + 1) * cell - width))
        finally:
            self._updating_scrollbars = False

    def _on_scrolled(self, value: int) -> None:
        if self._updating_scrollbars:
            return
        self._top = self._ring.first + value
        at_bottom = value >= self.verticalScrollBar().maximum()
        if at_bottom != self._follow:
            self._follow = at_bottom
            self.followTailChanged.emit(at_bottom)

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 (Qt's name)
        """Repaint from the scroll bars' positions (nothing is cached on screen)."""
        del dx, dy
        if self._updating_scrollbars:
            return  # the view moved them, and repaints as it sees fit
        self._stop_bands()
        self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """Refit the scroll bars to the new size."""
        super().resizeEvent(event)
        self._layout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        """Follow palette (light/dark) and font changes."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._styles.clear()
            self._colours.clear()
            self._fonts.clear()
            self._metrics = self._measure()
            self._layout()
        super().changeEvent(event)

    # -- styles ------------------------------------------------------------------------------

    def _is_dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    def _colour(self, colour: Colour) -> QColor:
        found = self._colours.get(colour)
        if found is None:
            if isinstance(colour, tuple):
                found = QColor(*colour)
            elif colour < 16:
                found = QColor(*(_DARK_16 if self._is_dark() else _LIGHT_16)[colour])
            elif colour < 232:
                index = colour - 16
                found = QColor(_CUBE[index // 36], _CUBE[index // 6 % 6], _CUBE[index % 6])
            else:
                grey = 8 + 10 * (colour - 232)
                found = QColor(grey, grey, grey)
            self._colours[colour] = found
        return found

    def _row_background(self, kind: int) -> QColor:
        base = self.palette().color(QPalette.ColorRole.Base)
        if kind == STDERR:
            return _mix(base, _STDERR_RED, 0.22 if self._is_dark() else 0.12)
        return base

    def _font(self, bold: bool, italic: bool, underline: bool, strike: bool) -> QFont:
        key = (bold, italic, underline, strike)
        found = self._fonts.get(key)
        if found is None:
            found = QFont(self.font())
            # Console text needs no kerning or ligatures, and shaping every
            # run is most of what drawing a row costs: with it, a screen of
            # new coloured rows took longer to paint than one 60 Hz frame.
            # Scripts that need shaping to be drawn correctly still get it.
            found.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
            found.setBold(bold)
            found.setItalic(italic)
            found.setUnderline(underline)
            found.setStrikeOut(strike)
            self._fonts[key] = found
        return found

    def _style(self, state: SgrState, kind: int) -> _Style:
        key = (state, kind)
        found = self._styles.get(key)
        if found is not None:
            return found
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        row_background = self._row_background(kind)
        if kind == STDERR:
            default = _mix(text, _STDERR_RED, 0.45 if self._is_dark() else 0.75)
        elif kind == NOTICE:
            default = _mix(text, row_background, 0.45)
        else:
            default = text
        foreground = default if state.fg is None else self._colour(state.fg)
        background = None if state.bg is None else self._colour(state.bg)
        if state.inverse:
            foreground, background = background or row_background, foreground
        if state.dim:
            foreground = _mix(foreground, background or row_background, 0.45)
        italic = state.italic or kind == NOTICE
        font = self._font(state.bold, italic, state.underline, state.strike)
        found = _Style(foreground, background, font)
        self._styles[key] = found
        return found

    # -- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        """Paint the visible rows only."""
        started = time.perf_counter()
        painter = QPainter(self.viewport())
        try:
            self._paint(painter, event)
        finally:
            painter.end()
            took = time.perf_counter() - started
            self._painting_s += took
            self._frame_paint_s += took

    def _paint(self, painter: QPainter, event: QPaintEvent) -> None:
        ring = self._ring
        line_height, ascent, cell = self._metrics
        palette = self.palette()
        area = event.rect()
        width = self.viewport().width()
        painter.fillRect(area, palette.color(QPalette.ColorRole.Base))
        highlight = palette.color(QPalette.ColorRole.Highlight)
        highlighted_text = palette.color(QPalette.ColorRole.HighlightedText)
        top = self.verticalScrollBar().value()
        if self._band_top is not None:
            # Lines evicted since the frame was laid out would shift the
            # later bands against the earlier ones.
            top = max(0, self._band_top - ring.first)
        shift = self.horizontalScrollBar().value()
        low = max(0, (shift - GUTTER) // cell)
        high = (shift + width) // cell + 1
        first = top + max(0, area.top()) // line_height
        last = min(ring.row_count(), top + area.bottom() // line_height + 1)
        font: QFont | None = None
        colour: QColor | None = None
        for index in range(first, last):
            y = (index - top) * line_height
            text, kind, state = ring.row(index)
            parsed = self._cache.get(text, state)
            ring.max_columns = max(ring.max_columns, len(parsed.text))
            if kind == STDERR:
                painter.fillRect(0, y, width, line_height, self._row_background(kind))
                painter.fillRect(0, y, MARKER_WIDTH, line_height, _STDERR_RED)
            selected = (
                None if self._selection is None else self._selection.columns(ring.first + index)
            )
            for run in parsed.runs:
                start, end = max(run.column, low), min(run.column + len(run.text), high)
                if start >= end:
                    continue
                style = self._style(run.state, kind)
                for a, b, is_selected in _split(start, end, selected):
                    x = GUTTER + a * cell - shift
                    background = highlight if is_selected else style.background
                    if background is not None:
                        painter.fillRect(x, y, (b - a) * cell, line_height, background)
                    # Runs of a row mostly share font and pen: set them only on a change.
                    if style.font is not font:
                        font = style.font
                        painter.setFont(font)
                    pen = highlighted_text if is_selected else style.foreground
                    if pen is not colour:
                        colour = pen
                        painter.setPen(pen)
                    painter.drawText(x, y + ascent, run.text[a - run.column : b - run.column])
            if selected is not None and selected[1] > len(parsed.text):
                # Show that the line's end (or an empty line) is selected too.
                x = GUTTER + max(len(parsed.text), selected[0]) * cell - shift
                painter.fillRect(x, y, cell, line_height, highlight)

    # -- mouse and keys ----------------------------------------------------------------------

    def _hit(self, position: QPoint) -> tuple[int, int]:
        line_height, _, cell = self._metrics
        rows = self._ring.row_count()
        row = self.verticalScrollBar().value() + position.y() // line_height
        row = min(max(row, 0), max(rows - 1, 0))
        column = round((position.x() - GUTTER + self.horizontalScrollBar().value()) / cell)
        return self._ring.first + row, max(0, column)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        """Start a selection (of lines when pressed in the gutter); Shift extends one."""
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        hit = self._hit(event.position().toPoint())
        if self._selection is not None and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._selection.cursor = hit
        else:
            lines = event.position().x() < GUTTER
            self._selection = _Selection(hit, hit, whole_lines=lines)
        self._dragging = True
        self.viewport().update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        """Extend the selection, scrolling when dragged past an edge."""
        if not self._dragging or self._selection is None:
            super().mouseMoveEvent(event)
            return
        position = event.position().toPoint()
        bar = self.verticalScrollBar()
        if position.y() < 0:
            bar.setValue(bar.value() - 1)
        elif position.y() > self.viewport().height():
            bar.setValue(bar.value() + 1)
        self._selection.cursor = self._hit(position)
        self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        """End a drag; an empty selection (a click) clears it."""
        if event.button() != Qt.MouseButton.LeftButton or not self._dragging:
            super().mouseReleaseEvent(event)
            return
        self._dragging = False
        selection = self._selection
        if (
            selection is not None
            and selection.anchor == selection.cursor
            and not selection.whole_lines
        ):
            self._selection = None
        clipboard = QGuiApplication.clipboard()
        if self._selection is not None and clipboard.supportsSelection():
            # X11's primary selection: middle-click pastes what was selected.
            clipboard.setText(self.selected_text(), QClipboard.Mode.Selection)
        self.viewport().update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        """Select the whole line under the pointer."""
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseDoubleClickEvent(event)
            return
        row, _ = self._hit(event.position().toPoint())
        self._selection = _Selection((row, 0), (row, 0), whole_lines=True)
        self._dragging = True
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Copy, select all, Home/End (End follows the output again), Escape deselects."""
        rows = self._ring.row_count()
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy()
        elif event.matches(QKeySequence.StandardKey.SelectAll) and rows:
            first, last = self._ring.first, self._ring.first + rows - 1
            self._selection = _Selection((first, 0), (last, 0), whole_lines=True)
            self.viewport().update()
        elif event.key() == Qt.Key.Key_Home:
            self.verticalScrollBar().setValue(0)
        elif event.key() == Qt.Key.Key_End:
            self.set_follow_tail(True)
        elif event.key() == Qt.Key.Key_Escape and self._selection is not None:
            self._selection = None
            self.viewport().update()
        else:
            super().keyPressEvent(event)


def _search(
    texts: list[str], pattern: re.Pattern[str], row: int, column: int, backwards: bool
) -> tuple[int, int, int] | None:
    """The next match of ``pattern`` from (row, column) in shown text, wrapping around."""
    rows = len(texts)
    # Visit every row once, starting at ``row``, then ``row`` again for the
    # part on the other side of ``column`` (the wrap-around).
    for step in range(rows + 1):
        index = (row - step if backwards else row + step) % rows
        spans = [match.span() for match in pattern.finditer(display_text(texts[index]))]
        if step == 0:
            spans = [s for s in spans if (s[0] <= column if backwards else s[0] >= column)]
        elif step == rows:
            spans = [s for s in spans if (s[0] > column if backwards else s[0] < column)]
        if spans:
            start, end = spans[-1] if backwards else spans[0]
            return index, start, end
    return None


def _split(start: int, end: int, selected: tuple[int, int] | None) -> list[tuple[int, int, bool]]:
    """Cut columns [start, end) where the selection begins and ends."""
    if selected is None or selected[1] <= start or selected[0] >= end:
        return [(start, end, False)]
    low, high = max(start, selected[0]), min(end, selected[1])
    parts = [(start, low, False), (low, high, True), (high, end, False)]
    return [part for part in parts if part[0] < part[1]]
