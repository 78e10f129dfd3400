"""The runner's side of a run's supervisor (``supervisor.py``, Linux only).

:func:`supervised` wraps a command line in the supervisor; a
:class:`SupervisorStatus` reads what the supervisor reports on its status
pipe: the command's pid, then how it ended (or why it could not start).
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from atom_desktop.platform.pipes import make_nonblocking

_SCRIPT = Path(__file__).with_name("supervisor.py")

#: In a built app, which has no interpreter to run ``supervisor.py`` with, the
#: app's own executable runs it when this is its first argument
#: (packaging/entry.py, which a test keeps in step with this value).
FROZEN_FLAG = "--run-supervisor"


def supervision_available() -> bool:
    """Whether runs start under a supervisor here (Linux: subreaper, parent-death signal)."""
    return sys.platform.startswith("linux") and (_frozen() or _SCRIPT.is_file())


def _frozen() -> bool:
    """Whether this is a built app (PyInstaller), whose modules are not files."""
    return bool(getattr(sys, "frozen", False))


def supervised(argv: list[str], grace_s: float, status_fd: int) -> list[str]:
    """``argv`` run under the supervisor, which reports on ``status_fd``."""
    # A built app's executable runs the supervisor itself (packaging/entry.py).
    # Otherwise -I: ignore the user's PYTHON* variables and site; -S: no site
    # packages (the script needs none, and they would cost start-up time);
    # -B: write no bytecode into the installation.
    if _frozen():
        program = [sys.executable, FROZEN_FLAG]
    else:
        program = [sys.executable, "-I", "-S", "-B", str(_SCRIPT)]
    return [
        *program,
        repr(grace_s),
        str(os.getpid()),
        str(status_fd),
        "--",
        *argv,
    ]


@dataclass
class CommandEnd:
    """How the supervised command ended: ``returncode`` as asyncio gives it (-N for signal N)."""

    returncode: int | None = None
    start_errno: int | None = None  # set when the command could not be started


class SupervisorStatus:
    """Reads a supervisor's status pipe on the event loop; owns and closes ``fd``."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self.command_pid: int | None = None
        self._end = CommandEnd()
        loop = asyncio.get_running_loop()
        self._loop = loop
        # Set by the first line: the command started (``command_pid``) or not.
        self.started = asyncio.Event()
        self.ended: asyncio.Future[CommandEnd] = loop.create_future()
        make_nonblocking(fd)
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # End of file: the supervisor is gone; whatever was not said is unknown.
            self.close()
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._take(line.decode("ascii", "replace").split())

    def _take(self, words: list[str]) -> None:
        if len(words) != 2 or not words[1].lstrip("-").isdigit():
            return
        kind, value = words[0], int(words[1])
        if kind == "pid":
            self.command_pid = value
            self.started.set()
        elif kind == "error":
            self._end.start_errno = value
            self.started.set()
        elif kind in ("exit", "signal"):
            self._end.returncode = value if kind == "exit" else -value
            self.close()

    def close(self) -> None:
        """Stop reading (idempotent); ``ended`` completes with what is known."""
        if self.ended.done():
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self.started.set()
        self.ended.set_result(self._end)

    @property
    def start_errno(self) -> int | None:
        """The errno of a failed start (after ``started``), else None."""
        return self._end.start_errno
