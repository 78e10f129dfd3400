"""A real X display for desktop tests: Xvfb, a tray host (trayer), and a WM-like close.

There is no window manager on the display; :func:`close_window` does what a
window manager's close button does: it sends the window a ``WM_DELETE_WINDOW``
client message (through libX11 via ctypes), so the app's own close handling
runs exactly as for a person.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from tests.support.processes import stop_process


@dataclass(frozen=True)
class XDisplay:
    """A running display with a tray host."""

    name: str  # e.g. ":7"

    def env(self) -> dict[str, str]:
        """Variables that put a program on this display."""
        return {"DISPLAY": self.name}

    def run(self, *args: str) -> str:
        """Run an X client on this display; its stdout."""
        return subprocess.run(
            args,
            env={**os.environ, **self.env()},
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        ).stdout

    def visible_windows(self, name: str) -> list[int]:
        """Ids of mapped windows whose title is exactly ``name``."""
        out = self.run("xdotool", "search", "--onlyvisible", "--name", f"^{name}$")
        return [int(line) for line in out.split()]

    def quit_from_tray(self, tray_title: str) -> None:
        """Open the tray icon's menu with a right click and choose its last item (Quit).

        As a person would, it clicks again when no menu opened (a click can
        land while the tray host still lays the icon out); three tries.
        """
        for attempt in range(3):
            shown = self._visible()
            self._right_click_tray_icon(tray_title)
            try:
                _wait_for(functools.partial(self._opened_since, shown), "the tray menu", timeout=8)
            except AssertionError:
                if attempt == 2:
                    raise
                continue
            # Up in a menu just opened selects its last entry; Return chooses it.
            self.run("xdotool", "key", "Up", "Return")
            return

    def _opened_since(self, shown: set[str]) -> bool:
        return bool(self._visible() - shown)

    def _visible(self) -> set[str]:
        return set(self.run("xdotool", "search", "--onlyvisible", "--name", "").split())

    def _right_click_tray_icon(self, tray_title: str) -> None:
        tree = self.run("xwininfo", "-root", "-tree")
        # The icon is a small window of that title embedded in the tray host's
        # panel: its line ends with its size, its offset in the panel (+0+0)
        # and its place on the screen, e.g. "22x30+0+0  +1257+1".
        icons = [
            found.groups()
            for line in tree.splitlines()
            if f'"{tray_title}"' in line
            and (found := re.search(r"(\d+)x(\d+)\+0\+0\s+\+(\d+)\+(\d+)\s*$", line))
            and 1 < int(found[1]) < 64
        ]
        assert len(icons) == 1, f"no single tray icon titled {tray_title!r} in:\n{tree}"
        width, height, x, y = (int(value) for value in icons[0])
        self.run("xdotool", "mousemove", str(x + width // 2), str(y + height // 2), "click", "3")


def _wait_for(condition: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


@contextlib.contextmanager
def running_display(size: str = "1280x800x24") -> Iterator[XDisplay]:
    """Xvfb on a free display number, with trayer as the system tray."""
    with tempfile.TemporaryFile() as log:
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        trayer: subprocess.Popen[bytes] | None = None
        try:
            with os.fdopen(read_fd, "rb") as reader:
                number = reader.readline().strip().decode()
            if not number:
                raise RuntimeError("Xvfb did not start (no display number)")
            display = XDisplay(f":{number}")
            trayer = _start_trayer(display, log)
            starts = 1
            deadline = time.monotonic() + 20
            while '"panel"' not in display.run("xwininfo", "-root", "-tree"):
                if trayer.poll() is not None and starts < 3:
                    # A panel that never came was seen once in a parallel run;
                    # if trayer ended early, it is started again (and the error
                    # below says how it ended, with what it printed).
                    trayer = _start_trayer(display, log)
                    starts += 1
                if time.monotonic() > deadline:
                    log.seek(0)
                    said = log.read().decode(errors="replace")[-2000:]
                    raise AssertionError(
                        f"trayer's panel did not appear within 20 s ({starts} start(s), "
                        f"exit status {trayer.poll()}): {said}"
                    )
                time.sleep(0.05)
            yield display
        finally:
            for proc in (trayer, xvfb):
                if proc is not None:
                    stop_process(proc)


def _start_trayer(display: XDisplay, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """trayer as the tray host: a panel at the top right, its messages in ``log``."""
    return subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "request",
            "--height",
            "32",
            "--transparent",
            "false",
        ],
        env={**os.environ, **display.env()},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _Event(ctypes.Union):
    _fields_ = [("client", _ClientMessage), ("pad", ctypes.c_long * 24)]


CLIENT_MESSAGE = 33
NO_EVENT_MASK = 0


def close_window(display: XDisplay, window: int) -> None:
    """Ask ``window`` to close the way a window manager does (WM_DELETE_WINDOW)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.POINTER(_Event),
    ]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.name.encode())
    if not handle:
        raise RuntimeError(f"cannot open display {display.name}")
    try:
        event = _Event()
        event.client.type = CLIENT_MESSAGE
        event.client.window = window
        event.client.message_type = x11.XInternAtom(handle, b"WM_PROTOCOLS", 0)
        event.client.format = 32
        event.client.data[0] = x11.XInternAtom(handle, b"WM_DELETE_WINDOW", 0)
        event.client.data[1] = 0  # CurrentTime
        if not x11.XSendEvent(handle, window, 0, NO_EVENT_MASK, ctypes.byref(event)):
            raise RuntimeError("XSendEvent failed")
        x11.XFlush(handle)
    finally:
        x11.XCloseDisplay(handle)
