"""Pseudo-terminals for runs of programs that only colour or show progress on a TTY."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

COLUMNS = 120
ROWS = 40


def open_pty() -> tuple[int, int]:
    """A (master, slave) pair sized COLUMNS x ROWS; the master is not inherited."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    os.set_inheritable(master, False)
    return master, slave


def pty_environment(env: dict[str, str]) -> dict[str, str]:
    """Tell the child what terminal it is on."""
    return {"TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS), **env}
