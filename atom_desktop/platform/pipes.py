"""Pipes for a child's output, as large as the system lets us make them.

On Linux a pipe holds 64 KiB by default; a bigger one lets a child write
ahead while the agent's loop is busy elsewhere, so it is read in fewer,
fuller reads. Other POSIX systems and Windows have no way to resize a pipe
(or pick a size of their own), so there a plain pipe is used.
"""

from __future__ import annotations

import contextlib
import os
import sys

from atom_desktop.platform.errors import PlatformNotSupportedError

# A WebSocket viewer of a flood cost the agent about a quarter less CPU per
# chunk than with the default 64 KiB. 1 MiB measured the same; every pipe
# counts against the user's pipe budget (fs/pipe-user-pages-soft, 64 MiB by
# default, shared with every other program), so no bigger than this.
PIPE_BYTES = 256 * 1024
# fcntl names it from Python 3.10 on; the number is Linux's own, for builds
# that do not name it.
_LINUX_F_SETPIPE_SZ = 1031


def output_pipe() -> tuple[int, int]:
    """A (read end, write end) pair for one output stream; only the write end is for the child."""
    # if/else, not an early return: mypy checks for one system and would call the
    # return after the if unreachable.
    if sys.platform.startswith("linux"):
        return linux_output_pipe()
    else:
        return plain_output_pipe()


def linux_output_pipe() -> tuple[int, int]:
    """A pipe enlarged to :data:`PIPE_BYTES` where the kernel allows it (Linux)."""
    if sys.platform == "win32":
        return plain_output_pipe()  # what mypy checking for Windows sees
    else:
        import fcntl  # noqa: PLC0415 - POSIX only: importing this module works everywhere

        read_end, write_end = os.pipe()
        set_size = getattr(fcntl, "F_SETPIPE_SZ", _LINUX_F_SETPIPE_SZ)
        with contextlib.suppress(OSError):  # a smaller pipe still works, only with more reads
            fcntl.fcntl(read_end, set_size, PIPE_BYTES)
        return read_end, write_end


def plain_output_pipe() -> tuple[int, int]:
    """A pipe of the system's own size (macOS, the BSDs, Windows)."""
    return os.pipe()


def make_nonblocking(fd: int) -> None:
    """Reads and writes on ``fd`` return at once instead of waiting (POSIX).

    Python 3.11 cannot do this for a pipe on Windows: there the runner reads
    pipes on threads (``runner/pipes.py``) and never calls this.
    """
    if sys.platform == "win32":
        raise PlatformNotSupportedError(
            "Non-blocking pipes need a POSIX system; on Windows the output is read on threads."
        )
    else:
        os.set_blocking(fd, False)


def read_into(fd: int, buffer: memoryview) -> int:
    """Read from ``fd`` straight into ``buffer`` (no copy); the byte count, 0 at end of file."""
    if sys.platform == "win32":
        raise PlatformNotSupportedError("Reading into a buffer needs a POSIX system.")
    else:
        return os.readv(fd, [buffer])
