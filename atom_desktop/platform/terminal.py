"""Pseudo-terminals for runs of programs that only colour or show progress on a TTY.

POSIX systems have them (``openpty``); Windows has only ConPTY, which works
differently (no descriptor pair a child can inherit), so there a run with a
terminal is refused with a message that says to run it without one.
"""

from __future__ import annotations

import os
import struct
import sys

from atom_desktop.platform.errors import PlatformNotSupportedError

COLUMNS = 120
ROWS = 40


def open_pty() -> tuple[int, int]:
    """A (master, slave) pair sized COLUMNS x ROWS; the master is not inherited.

    Raises :class:`PlatformNotSupportedError` where the system has no
    pseudo-terminals (Windows).
    """
    # if/else, not an early return: mypy checks one system at a time and
    # would call the code after the return unreachable.
    if sys.platform == "win32":
        return windows_open_pty()
    else:
        return posix_open_pty()


def posix_open_pty() -> tuple[int, int]:
    """The POSIX backend of :func:`open_pty`."""
    if sys.platform == "win32":
        return windows_open_pty()  # what mypy checking for Windows sees
    else:
        import fcntl  # noqa: PLC0415 - POSIX only: importing this module works everywhere
        import termios  # noqa: PLC0415

        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
            os.set_inheritable(master, False)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        return master, slave


def windows_open_pty() -> tuple[int, int]:
    """The Windows backend of :func:`open_pty`: there is none, and it says so."""
    raise PlatformNotSupportedError(
        "This system has no pseudo-terminals, so a run cannot be given a terminal (tty).",
        hint="Run the command without a terminal (tty off); its output is still kept.",
    )


def pty_environment(env: dict[str, str]) -> dict[str, str]:
    """Tell the child what terminal it is on."""
    return {"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS), **env}
