"""Reading a child's output descriptors on the event loop, straight into chunks.

Each descriptor (a pipe's read end, or a terminal's master side) is watched
by the loop's selector; when it is readable, one ``readv`` fills the rest of
a preallocated 64 KiB buffer in place. A full buffer becomes a chunk at once.
A read that empties the pipe (the child paused, or writes slower than we
read) makes the chunk at once too, unless this stream made one less than
``MIN_FLUSH_GAP_S`` ago; then a timer makes it when that gap is over. So a
child printing a line now and then is seen at once, and a flood still comes
in full chunks instead of one per write.

Why not asyncio's subprocess pipes: they wake a reader task per read, and
each read allocates a 256 KiB buffer (an ``mmap`` and its page faults for
every pipe-sized read) that is then copied three more times; in a flood that
was most of what the agent did.

The descriptors themselves come from :mod:`atom_desktop.platform.pipes` and
:mod:`atom_desktop.platform.terminal`. Reading them this way needs a loop
whose ``add_reader`` takes any descriptor: the selector loops of Linux and
macOS. Windows's proactor loop has no ``add_reader`` and its selector loop
watches only sockets, so there each pipe would need a reader thread handing
chunks to the loop (not built yet).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Callable

from atom_desktop.runner.output import CHUNK_BYTES

logger = logging.getLogger(__name__)

MIN_FLUSH_GAP_S = 0.002


class OutputReader:
    """Reads one descriptor until end of file, handing ``emit(stream, data)`` chunks.

    The reader owns ``fd`` and closes it. ``finished`` completes at end of
    file (or read error); :meth:`close` stops early. Bytes read but not yet
    emitted are emitted by both.
    """

    def __init__(
        self,
        fd: int,
        stream: str,
        emit: Callable[[str, bytes], None],
        on_read: Callable[[], None],
    ) -> None:
        self._fd = fd
        self._stream = stream
        self._emit = emit
        self._on_read = on_read
        self._buffer = bytearray(CHUNK_BYTES)
        self._view = memoryview(self._buffer)
        self._filled = 0
        self._last_flush = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self._loop.create_future()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            count = os.readv(self._fd, [self._view[self._filled :]])
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            # A terminal's master side reads EIO once the child has gone.
            if exc.errno != errno.EIO:
                logger.warning("Reading a run's %s failed (%s); it ends here", self._stream, exc)
            count = 0
        if count == 0:
            self.close()
            return
        self._on_read()
        self._filled += count
        if self._filled == CHUNK_BYTES:
            self._flush()
            return
        wait = self._last_flush + MIN_FLUSH_GAP_S - time.monotonic()
        if wait <= 0:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._filled:
            data = bytes(self._view[: self._filled])
            self._filled = 0
            self._last_flush = time.monotonic()
            self._emit(self._stream, data)

    def pause(self) -> None:
        """Stop reading for now (the child blocks once its pipe is full)."""
        if not self.finished.done():
            self._loop.remove_reader(self._fd)

    def resume(self) -> None:
        """Read again after :meth:`pause`."""
        if not self.finished.done():
            self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        """Stop reading, emit what was read, close the descriptor (idempotent)."""
        if self.finished.done():
            return
        self._loop.remove_reader(self._fd)
        self._flush()
        os.close(self._fd)
        self.finished.set_result(None)
