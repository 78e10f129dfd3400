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
watches only sockets, so there :class:`ThreadedOutputReader` reads each
descriptor in a thread of its own and hands the reads to the loop. Which one
a run gets is decided in one place, :func:`output_reader`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from atom_desktop.platform.pipes import make_nonblocking, read_into
from atom_desktop.runner.output import CHUNK_BYTES

logger = logging.getLogger(__name__)

MIN_FLUSH_GAP_S = 0.002
# Reads a reader thread may have handed to the loop that the loop has not
# taken yet. Past this the thread waits, so a busy loop bounds what is held
# in memory (16 reads of at most CHUNK_BYTES) and the child blocks on its
# pipe, as it would with the loop reading.
MAX_QUEUED_READS = 16


class Reader(Protocol):
    """What the runner needs of a reader, whichever way it reads."""

    @property
    def finished(self) -> asyncio.Future[None]:
        """Completes at end of file, at a read error, or at :meth:`close`."""
        ...

    def pause(self) -> None:
        """Stop reading for now (the child blocks once its pipe is full)."""

    def resume(self) -> None:
        """Read again after :meth:`pause`."""

    def close(self) -> None:
        """Stop reading, emit what was read, close the descriptor (idempotent)."""


def output_reader(
    fd: int,
    stream: str,
    emit: Callable[[str, bytes], None],
    on_read: Callable[[], None],
    *,
    threaded: bool | None = None,
) -> Reader:
    """A reader of ``fd`` for the running loop; it owns ``fd`` from now on.

    The loop reads the descriptor itself where it can watch it; otherwise
    (Windows) a thread reads it. ``threaded`` forces the choice (the thread
    reader works everywhere; tests use it on Linux).
    """
    if threaded is None:
        threaded = not loop_watches_pipes()
    if threaded:
        return ThreadedOutputReader(fd, stream, emit, on_read)
    return OutputReader(fd, stream, emit, on_read)


def loop_watches_pipes() -> bool:
    """Whether the asyncio loops of this system can watch a pipe with ``add_reader``.

    Every POSIX loop can (the selector loop, and uvloop). On Windows the
    default proactor loop has no ``add_reader`` at all and the selector loop
    selects sockets only.
    """
    return not sys.platform.startswith("win")


def flush_when_due(
    loop: asyncio.AbstractEventLoop,
    last_flush: float,
    timer: asyncio.TimerHandle | None,
    flush: Callable[[], None],
) -> asyncio.TimerHandle | None:
    """Flush what a reader holds now, or once ``MIN_FLUSH_GAP_S`` has passed since its last
    flush; returns the timer still pending (None once flushed).

    Both readers call this after a read that emptied the pipe: a child
    printing now and then is seen at once, a flood still goes in full chunks.
    """
    wait = last_flush + MIN_FLUSH_GAP_S - time.monotonic()
    if wait <= 0:
        flush()  # cancels a pending timer
        return None
    return timer or loop.call_later(wait, flush)


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
        make_nonblocking(fd)
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            count = read_into(self._fd, self._view[self._filled :])
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
        self._timer = flush_when_due(self._loop, self._last_flush, self._timer, self._flush)

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


class ThreadedOutputReader:
    """Reads one descriptor in a thread of its own; same interface and output as OutputReader.

    The thread does blocking reads of up to ``CHUNK_BYTES`` and hands each
    one to the loop (``call_soon_threadsafe``); everything else happens on
    the loop thread: ``on_read()`` for each read, then the reads are joined
    into chunks by the same rule as :class:`OutputReader` (a full chunk goes
    at once; a read shorter than a chunk emptied the pipe, so what is held
    goes at once too, unless this stream made a chunk less than
    ``MIN_FLUSH_GAP_S`` ago, and then a timer sends it when the gap is
    over). ``os.read`` returns a new ``bytes`` of what it read, which is
    emitted as it is when a chunk is one read; there is no ``readv`` on
    Windows to fill a buffer in place.

    :meth:`pause` makes the thread wait before its next read (one read under
    way still arrives), so the child blocks once its pipe is full.

    :meth:`close` cannot interrupt a blocking read (nothing portable can).
    It emits everything read so far, completes ``finished`` and tells the
    thread to stop; the descriptor is closed by whichever of the two comes
    last: by :meth:`close` when the thread has already ended, otherwise by
    the thread as soon as its read returns (with data, which is dropped, or
    at end of file). The runner closes readers only once the child's output
    reached end of file or after killing what holds the pipe, so that read
    returns; :meth:`close` itself never waits for it.
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
        self._loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self._loop.create_future()
        # Shared with the thread, under the condition's lock.
        self._changed = threading.Condition()
        self._reads: deque[bytes] = deque()  # handed over, not yet taken by the loop
        self._paused = False
        self._closing = False
        self._thread_ended = False
        # The loop's side: reads held for the next chunk.
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._last_flush = 0.0
        self._timer: asyncio.TimerHandle | None = None
        # A daemon: a read blocked on a pipe some stray process still holds
        # must not keep the agent from exiting.
        self._thread = threading.Thread(
            target=self._read_all, name=f"atom-output-{stream}-{fd}", daemon=True
        )
        self._thread.start()

    # The reader thread.

    def _read_all(self) -> None:
        try:
            while self._may_read():
                data = self._read()
                with self._changed:
                    if not data or self._closing:
                        return
                    self._reads.append(data)
                self._call(self._arrived)
        finally:
            with self._changed:
                self._thread_ended = True
                closing = self._closing
            # Whoever comes last closes the descriptor (see the class docstring).
            if closing or not self._call(self._ended):
                os.close(self._fd)

    def _may_read(self) -> bool:
        """Wait while paused or while the loop is behind; False once closing."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._closing or (not self._paused and len(self._reads) < MAX_QUEUED_READS)
            )
            return not self._closing

    def _read(self) -> bytes:
        """One blocking read of up to a chunk; b"" at end of file or a read error."""
        while True:
            try:
                return os.read(self._fd, CHUNK_BYTES)
            except BlockingIOError:
                # A descriptor someone else made non-blocking (the runner
                # writes a terminal's input that way). Only POSIX has those,
                # and there select waits for it.
                try:
                    select.select([self._fd], [], [])
                except OSError as exc:
                    self._read_failed(exc)
                    return b""
            except OSError as exc:
                self._read_failed(exc)
                return b""

    def _read_failed(self, exc: OSError) -> None:
        # A terminal's master side reads EIO once the child has gone.
        if exc.errno != errno.EIO:
            logger.warning("Reading a run's %s failed (%s); it ends here", self._stream, exc)

    def _call(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` on the loop; False if the loop is closed."""
        try:
            self._loop.call_soon_threadsafe(callback)
        except RuntimeError:
            return False
        return True

    # The loop thread.

    def _arrived(self) -> None:
        with self._changed:
            if not self._reads:
                return  # close() took it already
            data = self._reads.popleft()
            self._changed.notify_all()
        self._on_read()
        self._take(data)

    def _ended(self) -> None:
        self.close()

    def _take(self, data: bytes) -> None:
        if self._held_bytes + len(data) > CHUNK_BYTES:
            self._flush()  # chunks stay within CHUNK_BYTES
        self._held.append(data)
        self._held_bytes += len(data)
        if self._held_bytes == CHUNK_BYTES:
            self._flush()
            return
        # A read shorter than a chunk emptied the pipe.
        self._timer = flush_when_due(self._loop, self._last_flush, self._timer, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held.clear()
            self._held_bytes = 0
            self._last_flush = time.monotonic()
            self._emit(self._stream, data)

    def pause(self) -> None:
        """Stop reading for now (the child blocks once its pipe is full)."""
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        """Read again after :meth:`pause`."""
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    def close(self) -> None:
        """Stop reading, emit what was read, close the descriptor (idempotent).

        Never waits for a read under way; see the class docstring for who
        closes the descriptor then.
        """
        if self.finished.done():
            return
        with self._changed:
            self._closing = True
            self._changed.notify_all()
            pending = list(self._reads)
            self._reads.clear()
            thread_ended = self._thread_ended
        for data in pending:
            self._on_read()
            self._take(data)
        self._flush()
        self.finished.set_result(None)
        if thread_ended:
            # It has at most a call_soon_threadsafe left to make.
            self._thread.join()
            os.close(self._fd)
