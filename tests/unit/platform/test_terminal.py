"""Pseudo-terminals: sized on POSIX, refused with a clear message on Windows."""

from __future__ import annotations

import os
import sys

import pytest

from atom_desktop.core.errors import AtomError
from atom_desktop.platform import terminal
from atom_desktop.platform.errors import PlatformNotSupportedError


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX has pseudo-terminals")
def test_open_pty_gives_a_terminal_of_the_agreed_size() -> None:
    master, slave = terminal.open_pty()
    try:
        assert os.isatty(slave)
        size = os.get_terminal_size(slave)
        assert (size.columns, size.lines) == (terminal.COLUMNS, terminal.ROWS)
        assert not os.get_inheritable(master)  # only the slave side is the child's
        os.write(master, b"typed\n")
        assert os.read(slave, 100) == b"typed\n"
    finally:
        os.close(master)
        os.close(slave)


def test_the_windows_backend_refuses_with_what_to_do() -> None:
    with pytest.raises(PlatformNotSupportedError) as refused:
        terminal.windows_open_pty()
    assert isinstance(refused.value, AtomError)  # reported as the user's to act on, not a bug
    assert "no pseudo-terminals" in str(refused.value)
    assert "without a terminal" in str(refused.value)


def test_the_environment_names_the_terminal_and_keeps_what_was_set() -> None:
    env = terminal.pty_environment({"PATH": "/bin", "COLUMNS": "80"})
    assert env["TERM"] == "xterm-256color"
    assert env["LINES"] == str(terminal.ROWS)
    assert env["COLUMNS"] == "80"  # the run's own setting wins
    assert env["PATH"] == "/bin"
