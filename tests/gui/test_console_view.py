"""The console view: partial lines, streams, colours, the cap, find, copy, following, speed."""

from __future__ import annotations

import codecs
import gc
import itertools
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSocketNotifier, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from atom_desktop.gui import console_view
from atom_desktop.gui.console_view import (
    BAND_ROWS,
    GUTTER,
    INGEST_SLICE_S,
    MARKER_WIDTH,
    MIN_SLICE_S,
    STEP_CHARS,
    ConsoleView,
)
from tests.support.qt_watchdog import QtLoopWatchdog

LIGHT = ("#ffffff", "#000000")
DARK = ("#1e1e1e", "#d4d4d4")


@pytest.fixture
def view(qtbot: QtBot) -> ConsoleView:
    widget = ConsoleView()
    qtbot.addWidget(widget)
    widget.resize(640, 400)
    widget.show()
    return widget


def _use_palette(view: ConsoleView, base: str, text: str) -> None:
    palette = view.palette()
    palette.setColor(QPalette.ColorRole.Base, QColor(base))
    palette.setColor(QPalette.ColorRole.Text, QColor(text))
    view.setPalette(palette)


def _row_top(view: ConsoleView, row: int) -> int:
    """Widget y of a row's top (the view's first row is at the viewport's top)."""
    return view.viewport().y() + row * view.fontMetrics().lineSpacing()


def _colours_in(image: QImage, x0: int, x1: int, y0: int, y1: int) -> set[tuple[int, int, int]]:
    found = set()
    for y in range(y0, y1):
        for x in range(x0, x1):
            colour = image.pixelColor(x, y)
            found.add((colour.red(), colour.green(), colour.blue()))
    return found


def _following(view: ConsoleView) -> bool:
    # Read through a call: mypy would otherwise narrow the property after one
    # assert and call the next (after the view changed) unreachable.
    return view.follow_tail


def _distance(a: QColor, b: QColor) -> int:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


# -- lines and streams ------------------------------------------------------------------------


def test_a_partial_line_is_shown_and_completed_by_later_appends(view: ConsoleView) -> None:
    view.append("Password")
    assert view.plain_text() == "Password"
    assert view.line_count() == 1
    view.append(": ")
    view.append("ok\nnext line\nthe st")
    assert view.plain_text() == "Password: ok\nnext line\nthe st"
    view.append("art of another\n")
    assert view.plain_text() == "Password: ok\nnext line\nthe start of another"
    assert view.line_count() == 3


def test_stdout_and_stderr_partial_lines_are_kept_apart(view: ConsoleView) -> None:
    view.append("out: compil")
    view.append("err: warn", "stderr")
    view.append("ing\nout: linking\n")
    assert view.plain_text() == "out: compiling\nout: linking\nerr: warn"
    view.append("ing 1\n", "stderr")
    view.append("out: done\n")
    assert view.plain_text().splitlines() == [
        "out: compiling",
        "out: linking",
        "err: warning 1",
        "out: done",
    ]
    # Row 2 is drawn as stderr, the others as stdout.
    colours = [view.styled_runs(row)[0].foreground for row in range(4)]
    assert colours[0] == colours[1] == colours[3] != colours[2]


def test_crlf_and_a_crlf_split_between_appends_end_lines_cleanly(view: ConsoleView) -> None:
    view.append("windows\r\nline\r")
    view.append("\nnext\r\n")
    assert view.plain_text() == "windows\nline\nnext"


def test_a_notice_ends_open_lines_and_is_muted(view: ConsoleView) -> None:
    view.append("no newline at the end")
    view.append_notice("— exited 0 —")
    view.append("more")
    assert view.plain_text() == "no newline at the end\n— exited 0 —\nmore"
    notice = view.styled_runs(1)[0]
    normal = view.styled_runs(0)[0]
    assert notice.font.italic()
    assert not normal.font.italic()
    assert notice.foreground != normal.foreground


def test_stream_names_are_checked(view: ConsoleView) -> None:
    with pytest.raises(ValueError, match="stream"):
        view.append("x", "stdin")


# -- colours and escapes ------------------------------------------------------------------------


def test_sgr_colours_become_the_formats_the_painter_uses(view: ConsoleView) -> None:
    _use_palette(view, *LIGHT)
    view.append("\x1b[1;31mred\x1b[0m plain \x1b[38;2;10;20;30mrgb\x1b[48;5;196mon red\x1b[0m\n")
    runs = view.styled_runs(0)
    assert [(run.column, run.text) for run in runs] == [
        (0, "red"),
        (3, " plain "),
        (10, "rgb"),
        (13, "on red"),
    ]
    red, plain, rgb, on_red = runs
    assert red.font.bold() and not plain.font.bold()
    assert red.foreground.red() > red.foreground.green() + 80
    assert plain.foreground == QColor(LIGHT[1])
    assert plain.background is None
    assert rgb.foreground == QColor(10, 20, 30)
    assert on_red.background == QColor(255, 0, 0)  # index 196 of the 6x6x6 cube
    assert on_red.foreground == QColor(10, 20, 30)


def test_colour_carries_across_lines_and_appends(view: ConsoleView) -> None:
    view.append("\x1b[32mgreen\nstill gr")
    view.append("een\n\x1b[7minverse\x1b[0m\nplain\n")
    green = view.styled_runs(0)[0].foreground
    assert view.styled_runs(1)[0].foreground == green
    inverse = view.styled_runs(2)[0]
    assert inverse.background == green  # inverse swaps: the green is now behind the text
    assert view.styled_runs(3)[0].foreground != green


def test_an_escape_split_between_appends_is_understood(view: ConsoleView) -> None:
    view.append("before \x1b[3")
    assert view.plain_text() == "before "  # the half sequence is never shown
    view.append("1mred\x1b[0m\n")
    assert view.plain_text() == "before red"
    assert view.styled_runs(0)[1].foreground.red() > 150


def test_other_escapes_are_stripped_never_shown(view: ConsoleView) -> None:
    view.append(
        "\x1b]0;title\x07\x1b[2J\x1b[H\x1b[?25lstart\x1b[K \x1b(B\x1b7mid\x1b8 "
        "\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\\x07 end\x1b[?25h\n"
    )
    assert view.plain_text() == "start mid link end"


def test_carriage_returns_show_the_last_rewrite(view: ConsoleView) -> None:
    view.append("progress 10%\rprogress 50%\rprogress 100%\ndone\n")
    view.append("\x1b[33mdownloading 1/3\r")
    assert view.plain_text() == "progress 100%\ndone\ndownloading 1/3"
    view.append("downloading 2/3\r")
    view.append("downloading 3/3\x1b[0m\n")
    assert view.plain_text() == "progress 100%\ndone\ndownloading 3/3"
    # The yellow set before the rewrites still colours the last one.
    assert view.styled_runs(2)[0].foreground != view.styled_runs(1)[0].foreground


def test_a_progress_bar_without_newlines_stays_one_short_line(view: ConsoleView) -> None:
    for percent in range(0, 10_001):
        view.append(f"\r\x1b[K{percent / 100:.2f}%")
    view.flush()
    assert view.plain_text() == "100.00%"
    assert view.line_count() == 1


def test_a_line_without_end_is_cut_into_bounded_rows(view: ConsoleView) -> None:
    view.append("x" * 50_000)
    view.append("\n")
    rows = view.plain_text().split("\n")
    assert "".join(rows) == "x" * 50_000
    assert max(map(len, rows)) <= 8192


# -- the cap --------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_lines", [1, 7, 400])
def test_the_ring_keeps_only_the_newest_lines(qtbot: QtBot, chunk_lines: int) -> None:
    view = ConsoleView(max_lines=100)
    qtbot.addWidget(view)
    lines = [f"\x1b[3{n % 8}mline {n}\x1b[0m\n" for n in range(1_000)]
    # Many appends queued before any ingest (as a burst of signals would),
    # so the queue itself holds more than the ring can keep.
    for start in range(0, len(lines), chunk_lines):
        view.append("".join(lines[start : start + chunk_lines]))
    assert view.line_count() == 100
    shown = view.plain_text().splitlines()
    assert shown[0] == "line 900"
    assert shown[-1] == "line 999"
    # Colours still follow each line after skipping.
    assert view.styled_runs(0)[0].foreground != view.styled_runs(1)[0].foreground


def test_the_cap_keeps_colour_carried_into_the_kept_lines(qtbot: QtBot) -> None:
    view = ConsoleView(max_lines=10)
    qtbot.addWidget(view)
    view.append("\x1b[32m")
    for number in range(100):
        view.append(f"green {number}\n")
    view.append("\x1b[0mplain\n")
    assert view.line_count() == 10
    assert view.plain_text().splitlines()[0] == "green 91"
    assert view.styled_runs(0)[0].foreground != view.styled_runs(9)[0].foreground


def test_clear_forgets_everything(view: ConsoleView) -> None:
    view.append("a\nb\npartial")
    view.append("err", "stderr")
    view.clear()
    assert view.line_count() == 0
    assert view.plain_text() == ""
    view.append("fresh\n")
    assert view.plain_text() == "fresh"


# -- find, select, copy ---------------------------------------------------------------------


def test_find_moves_to_each_match_and_wraps(view: ConsoleView) -> None:
    view.append("".join(f"line {n}\n" for n in range(500)))
    view.append("The \x1b[1mNeedle\x1b[0m is here\n")
    view.append("".join(f"line {n}\n" for n in range(500, 1000)))
    view.append("another needle\n")
    view.flush()
    view.verticalScrollBar().setValue(0)
    assert view.find("needle")
    assert view.selected_text() == "Needle"
    assert not _following(view)
    bar = view.verticalScrollBar()
    page = bar.pageStep()
    assert bar.value() <= 500 < bar.value() + page  # the match is on screen
    assert view.find("needle")
    assert view.selected_text() == "needle"
    assert bar.value() <= 1001 < bar.value() + page
    assert view.find("needle")  # wraps around to the first again
    assert view.selected_text() == "Needle"
    assert view.find("needle", backwards=True)
    assert view.selected_text() == "needle"
    assert not view.find("NEEDLE", case_sensitive=True)
    assert view.selected_text() == "needle"  # a failed search leaves the selection alone
    assert view.find("Needle", case_sensitive=True)
    assert view.selected_text() == "Needle"
    assert not view.find("absent")
    assert not view.find("")


def test_find_moves_across_the_same_line(view: ConsoleView) -> None:
    view.append("ab ab ab\n")
    found = []
    for _ in range(4):
        assert view.find("ab")
        assert view._selection is not None
        found.append(view._selection.bounds()[0][1])
    assert found == [0, 3, 6, 0]


def test_copy_puts_the_selection_or_everything_on_the_clipboard(
    view: ConsoleView, qtbot: QtBot
) -> None:
    clipboard = QApplication.clipboard()
    view.append("\x1b[32mfirst line\x1b[0m\nsecond line\n")
    view.append("an error\n", "stderr")
    view.copy()
    assert clipboard.text() == "first line\nsecond line\nan error"
    assert view.find("second")
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "second"


def test_dragging_selects_characters_and_the_gutter_selects_lines(
    view: ConsoleView, qtbot: QtBot
) -> None:
    view.append("0123456789\nabcdefghij\nklmnopqrst\n")
    view.flush()
    cell = view.fontMetrics().horizontalAdvance("M")
    line = view.fontMetrics().lineSpacing()
    port = view.viewport()

    def point(column: int, row: int) -> QPoint:
        return QPoint(GUTTER + column * cell, row * line + line // 2)

    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=point(3, 0))
    qtbot.mouseMove(port, point(4, 1))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=point(4, 1))
    assert view.selected_text() == "3456789\nabcd"
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "3456789\nabcd"

    gutter = QPoint(1, line + line // 2)
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=gutter)
    qtbot.mouseMove(port, QPoint(1, 2 * line + line // 2))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(1, 2 * line + line // 2))
    assert view.selected_text() == "abcdefghij\nklmnopqrst"

    qtbot.mouseClick(port, Qt.MouseButton.LeftButton, pos=point(2, 2))
    assert view.selected_text() == ""
    view.copy()  # nothing selected: everything
    assert QApplication.clipboard().text() == "0123456789\nabcdefghij\nklmnopqrst"


# -- following the tail ---------------------------------------------------------------------


def test_scrolling_up_stops_following_and_the_bottom_resumes_it(
    view: ConsoleView, qtbot: QtBot
) -> None:
    seen: list[bool] = []
    view.followTailChanged.connect(seen.append)
    view.append("".join(f"line {n}\n" for n in range(1_000)))
    view.flush()
    bar = view.verticalScrollBar()
    assert _following(view)
    assert bar.value() == bar.maximum() > 0

    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert not _following(view)
    assert seen == [False]
    top = bar.value()
    assert top < bar.maximum()
    view.append("".join(f"more {n}\n" for n in range(100)))
    view.flush()
    assert bar.value() == top  # new output does not move a reader who scrolled up

    bar.setValue(bar.maximum())  # dragged back to the bottom
    assert _following(view)
    assert seen == [False, True]
    view.append("".join(f"again {n}\n" for n in range(100)))
    view.flush()
    assert bar.value() == bar.maximum()

    view.set_follow_tail(False)
    assert seen == [False, True, False]
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert _following(view)
    assert seen == [False, True, False, True]


def test_a_reader_scrolled_up_keeps_their_lines_while_old_ones_are_dropped(
    qtbot: QtBot,
) -> None:
    view = ConsoleView(max_lines=300)
    qtbot.addWidget(view)
    view.resize(400, 200)
    view.show()
    view.append("".join(f"line {n}\n" for n in range(300)))
    view.flush()
    bar = view.verticalScrollBar()
    bar.setValue(150)
    assert not _following(view)
    view.append("".join(f"line {n}\n" for n in range(300, 400)))  # drops lines 0-99
    view.flush()
    assert bar.value() == 50
    assert view.plain_text().splitlines()[bar.value()] == "line 150"


# -- what it looks like ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", [LIGHT, DARK], ids=["light", "dark"])
def test_stderr_rows_look_different_from_stdout_rows(
    view: ConsoleView, scheme: tuple[str, str]
) -> None:
    _use_palette(view, *scheme)
    view.append("an ordinary line of output\n")
    view.append("an error line on stderr here\n", "stderr")
    view.append("\x1b[48;2;10;200;30m      \x1b[0m\n")
    view.flush()
    image = view.grab().toImage()
    line = view.fontMetrics().lineSpacing()
    base = QColor(scheme[0])
    x_text = view.viewport().x() + GUTTER
    x_blank = view.viewport().x() + view.viewport().width() - 20

    def row_pixels(row: int, x0: int, x1: int) -> set[tuple[int, int, int]]:
        top = _row_top(view, row)
        return _colours_in(image, x0, x1, top, top + line)

    # Behind the text: stdout shows the palette's Base, stderr a tint of it.
    stdout_blank = row_pixels(0, x_blank, x_blank + 10)
    stderr_blank = row_pixels(1, x_blank, x_blank + 10)
    assert stdout_blank == {(base.red(), base.green(), base.blue())}
    assert len(stderr_blank) == 1
    tint = QColor(*stderr_blank.pop())
    assert _distance(tint, base) >= 30
    assert tint.red() > tint.green() and tint.red() > tint.blue()
    # A marker in the gutter.
    x_marker = view.viewport().x()
    assert row_pixels(0, x_marker, x_marker + MARKER_WIDTH) == stdout_blank
    marker = row_pixels(1, x_marker, x_marker + MARKER_WIDTH)
    assert len(marker) == 1 and _distance(QColor(*marker.pop()), base) >= 150
    # The text itself is drawn in a different colour too: the darkest or
    # lightest pixel (the glyph cores) differ.
    text_width = 20 * view.fontMetrics().horizontalAdvance("M")
    stdout_ink = row_pixels(0, x_text, x_text + text_width) - {
        (base.red(), base.green(), base.blue())
    }
    stderr_ink = row_pixels(1, x_text, x_text + text_width) - {
        (tint.red(), tint.green(), tint.blue())
    }
    assert stdout_ink and stderr_ink
    far = max(stderr_ink, key=lambda rgb: _distance(QColor(*rgb), tint))
    assert far not in stdout_ink
    # 24-bit background colours are painted exactly.
    assert (10, 200, 30) in row_pixels(2, x_text, x_text + 3 * line)


# -- PySide6 6.12 on Python 3.11 ------------------------------------------------------------


def test_many_wrapped_void_calls_do_not_crash(view: ConsoleView) -> None:
    # PySide6 6.12.0 on 3.11 drops a reference to None on every call of a
    # wrapped void method and aborts after ~5,000 (RECIPES.md). Each round
    # here makes several such calls (timer start/stop, scroll bar setters,
    # update): a bad PySide6 kills the whole test run here.
    bar = view.verticalScrollBar()
    for number in range(20_000):
        view.append(f"line {number}\n")
        bar.setValue(number % 50)
        view.viewport().update()
        view.setAccessibleName("Run output")
    view.flush()
    assert view.line_count() == 20_000
    assert view.accessibleName() == "Run output"


# -- keeping the Qt loop responsive ------------------------------------------------------------


def test_a_large_piece_is_ingested_in_steps_with_nothing_lost(qtbot: QtBot) -> None:
    view = ConsoleView()
    qtbot.addWidget(view)
    lines = [f"\x1b[3{n % 8}mline {n}\x1b[0m \x1b[1mbold" for n in range(5_000)]
    text = "\n".join(lines) + "\n" + "x" * (3 * STEP_CHARS) + "\x1b[32mgreen"
    view.append(text)
    ring = view._ring
    # A deadline already past: one step is taken, not the whole piece.
    assert ring.ingest(0.0)
    assert 0 < ring.row_count() <= STEP_CHARS // len(lines[0])
    assert 0 < view.backlog() < len(text)
    # Later steps pick up where it stopped: every line, in order, with colours.
    shown = view.plain_text().split("\n")
    assert shown[: len(lines)] == [f"line {n} bold" for n in range(5_000)]
    assert "".join(shown[len(lines) :]) == "x" * (3 * STEP_CHARS) + "green"
    assert view.styled_runs(1)[0].foreground != view.styled_runs(2)[0].foreground
    assert view.styled_runs(view.line_count() - 1)[-1].text == "green"


def _paints_of_a_flood(view: ConsoleView, qtbot: QtBot) -> list[tuple[int, int, int]]:
    """(top, bottom, absolute row at the top or -1 if not in bands) of each paint."""
    painted: list[tuple[int, int, int]] = []
    original = view._paint

    def record(painter: QPainter, event: QPaintEvent) -> None:
        top = -1 if view._band_top is None else view._band_top
        painted.append((event.rect().top(), event.rect().bottom(), top))
        original(painter, event)

    view._paint = record  # type: ignore[method-assign]
    qtbot.waitExposed(view)
    # More rows than fit first: the scroll bar that then appears resizes the
    # viewport, which repaints it whole. On a quiet machine the flood below
    # is taken in one frame, which would be that resize's.
    view.append("".join(f"before {n}\n" for n in range(500)))
    view.flush()
    qtbot.waitUntil(view.verticalScrollBar().isVisible)
    qtbot.wait(20)
    painted.clear()
    view.append("".join(f"\x1b[3{n % 8}mline {n}\x1b[0m\n" for n in range(20_000)))
    qtbot.waitUntil(lambda: view.backlog() == 0 and bool(painted))
    qtbot.wait(100)  # the last frame's bands
    return painted


def test_while_output_arrives_a_costly_frame_is_painted_in_bands(
    view: ConsoleView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if every frame had been costly to paint.
    monkeypatch.setattr(console_view, "BANDS_FROM_S", 0.0)
    painted = _paints_of_a_flood(view, qtbot)
    height = view.viewport().height()
    banded = [(top, bottom) for top, bottom, at in painted if at >= 0]
    assert len(banded) > 1
    assert max(bottom - top + 1 for top, bottom in banded) <= BAND_ROWS * view._metrics[0]
    assert BAND_ROWS * view._metrics[0] < height
    # The last frame's bands tile the viewport and show the same rows: the
    # newest, as a view following the output does.
    last = painted[-1][2]
    bands = sorted((top, bottom) for top, bottom, at in painted if at == last)
    assert bands[0][0] == 0
    assert bands[-1][1] >= height - 1
    assert all(b[0] <= a[1] + 1 for a, b in itertools.pairwise(bands))
    bar = view.verticalScrollBar()
    assert last == view._ring.first + bar.value() and bar.value() == bar.maximum()


def test_a_cheap_frame_is_painted_whole(
    view: ConsoleView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if no frame took long to paint: bands would only add paint events.
    monkeypatch.setattr(console_view, "BANDS_FROM_S", 3600.0)
    painted = _paints_of_a_flood(view, qtbot)
    assert all(at == -1 for _, _, at in painted)
    height = view.viewport().height()
    assert any(top == 0 and bottom >= height - 1 for top, bottom, _ in painted)


def test_an_ingest_slice_after_a_paint_is_shorter(view: ConsoleView) -> None:
    deadlines: list[float] = []
    ring = view._ring

    def ingest(deadline: float | None) -> bool:
        assert deadline is not None
        deadlines.append(deadline - time.perf_counter())
        return True

    ring.ingest = ingest  # type: ignore[method-assign]
    view._painting_s = 0.0  # no paint since the last slice
    view._ingest_slice()
    view._painting_s = 0.0025  # a paint ran in this turn of the loop
    view._ingest_slice()
    view._painting_s = 1.0
    view._ingest_slice()
    full, after_paint, after_long_paint = deadlines
    assert full <= INGEST_SLICE_S
    assert after_paint <= INGEST_SLICE_S - 0.0025 < full
    assert 0 < after_long_paint <= MIN_SLICE_S


class _PipeReader:
    """Reads a child's stdout 64 KiB per event-loop callback, as the app's readers do."""

    def __init__(self, proc: subprocess.Popen[bytes], deliver: Callable[[str], None]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.done = False
        self.bytes = 0
        self._deliver = deliver
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._notifier = QSocketNotifier(self.fd, QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        self.bytes += len(data)
        if data:
            self._deliver(self._decoder.decode(data))
            return
        self._notifier.setEnabled(False)
        self._deliver(self._decoder.decode(b"", final=True))
        self.done = True


def _flood_file(path: Path, mib: int) -> tuple[int, str]:
    """A file of ``mib`` MiB of mixed coloured and plain lines; (line count, last line)."""
    lines = []
    for n in range(16_384):
        kind = n % 4
        if kind == 0:
            lines.append(f"12:00:{n % 60:02d} \x1b[32mINFO\x1b[0m worker {n % 7}: item {n} ok\n")
        elif kind == 1:
            lines.append(
                f"\x1b[38;5;{n % 256}m{n:>6}\x1b[0m \x1b[1;38;2;{n % 256};90;40mrgb\x1b[0m\n"
            )
        elif kind == 2:
            lines.append(f"\x1b[31mERROR\x1b[0m job {n} failed: \x1b[1mreason\x1b[22m here\n")
        else:
            lines.append(f"plain output line {n} with a few words of ordinary text\n")
    block = "".join(lines).encode()
    repeats = max(1, mib * 1024 * 1024 // len(block))
    with path.open("wb") as out:
        for _ in range(repeats):
            out.write(block)
    return repeats * len(lines), lines[-1].rstrip("\n")


@pytest.fixture
def big_view(qtbot: QtBot) -> Iterator[ConsoleView]:
    """A window-sized view, in a process whose start-up garbage is settled.

    The app freezes everything built at start-up out of the collector's full
    passes (``Runtime.async_start`` calls ``gc.freeze()``); without that, the
    first full pass over this test process (pytest, hypothesis, the whole
    agent imported by other tests) stalls any thread for longer than the
    budget measured here, whatever the widget does. So do the same here.
    """
    gc.collect()
    gc.freeze()
    widget = ConsoleView()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    try:
        yield widget
    finally:
        gc.unfreeze()


@pytest.mark.slow
def test_a_100_mb_flood_through_a_pipe_never_stalls_the_qt_loop(
    big_view: ConsoleView, qtbot: QtBot, tmp_path: Path
) -> None:
    flood = tmp_path / "flood.txt"
    line_count, last_line = _flood_file(flood, 100)
    size = flood.stat().st_size
    watchdog = QtLoopWatchdog()
    proc = subprocess.Popen(["cat", str(flood)], stdout=subprocess.PIPE)
    try:
        reader = _PipeReader(proc, big_view.append)
        watchdog.start()
        started = time.perf_counter()
        qtbot.waitUntil(lambda: reader.done and big_view.backlog() == 0, timeout=90_000)
        qtbot.wait(50)  # the last frame
        elapsed = time.perf_counter() - started
        watchdog.stop()
    finally:
        proc.stdout.close()  # type: ignore[union-attr]
        proc.wait()
    assert reader.bytes == size
    assert len(watchdog.gaps) > elapsed / 0.1  # the timer really ran all along
    assert max(watchdog.stalls) < 0.1, f"the Qt loop stalled: {watchdog.report()}"
    assert big_view.line_count() == 100_000 < line_count
    assert big_view.plain_text().rsplit("\n", 1)[-1] == last_line
    bar = big_view.verticalScrollBar()
    assert bar.value() == bar.maximum()  # still following the tail


def test_a_burst_of_queued_chunks_is_taken_without_stalling(
    big_view: ConsoleView, qtbot: QtBot, tmp_path: Path
) -> None:
    # A producer that ran ahead (or a window that was busy): 16 MiB of chunks,
    # over three times what the ring keeps, handed over before the loop gets
    # to run again. Appending costs only a newline count each (C, about
    # 1 ns a character here); ingest comes later, in slices.
    flood = tmp_path / "burst.txt"
    line_count, last_line = _flood_file(flood, 16)
    text = flood.read_text()
    chunks = [text[start : start + 65536] for start in range(0, len(text), 65536)]
    watchdog = QtLoopWatchdog()
    delivered = []

    def burst() -> None:
        for chunk in chunks:
            big_view.append(chunk)
        delivered.append(True)

    watchdog.start()
    QTimer.singleShot(0, burst)
    qtbot.waitUntil(lambda: bool(delivered) and big_view.backlog() == 0, timeout=60_000)
    qtbot.wait(50)
    watchdog.stop()
    assert max(watchdog.stalls) < 0.1, f"the Qt loop stalled: {watchdog.report()}"
    assert big_view.line_count() == 100_000
    # Lines the ring could not keep anyway were never built.
    assert big_view._ring.skipped_lines >= line_count - 2 * 100_000
    assert big_view.plain_text().rsplit("\n", 1)[-1] == last_line
