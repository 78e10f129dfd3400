"""Output readers on real pipes from real processes: the loop reader and the thread reader.

The thread reader is what Windows uses (its loop cannot watch a pipe); it
runs here too, forced, and every test holds both readers to the same
behaviour.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psutil
import pytest

from atom_desktop.platform.pipes import output_pipe
from atom_desktop.runner.output import CHUNK_BYTES
from atom_desktop.runner.pipes import (
    OutputReader,
    Reader,
    ThreadedOutputReader,
    loop_watches_pipes,
    output_reader,
)

PY = sys.executable
TOTAL = 20_000_000
# The writer's pieces: single bytes, odd sizes, exactly a chunk, a chunk and
# a bit, several chunks at once.
WRITER = textwrap.dedent(
    f"""
    import sys
    out = sys.stdout.buffer
    data = (bytes(range(256)) * ({TOTAL} // 256 + 1))[:{TOTAL}]
    sizes = [1, 7, 4096, 65535, 65536, 65537, 300000]
    at = i = 0
    while at < len(data):
        size = sizes[i % len(sizes)]
        out.write(data[at : at + size])
        out.flush()
        at += size
        i += 1
    """
)
EXPECTED = (bytes(range(256)) * (TOTAL // 256 + 1))[:TOTAL]
FOREVER = (
    "import sys\nwhile True:\n    sys.stdout.buffer.write(b'x' * 65536)\n    sys.stdout.flush()"
)
THREAD_PREFIX = "atom-output-"

readers = pytest.mark.parametrize("threaded", [True, False], ids=["thread", "loop"])


@dataclass
class Collected:
    """What a reader handed over, recorded on the loop thread."""

    chunks: list[bytes] = field(default_factory=list)
    streams: set[str] = field(default_factory=set)
    reads: int = 0
    off_loop: int = 0  # calls that came on another thread than the loop's

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def emit(self, stream: str, data: bytes) -> None:
        self._on_loop()
        self.streams.add(stream)
        self.chunks.append(data)

    def on_read(self) -> None:
        self._on_loop()
        self.reads += 1

    def _on_loop(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.off_loop += 1


@dataclass
class Child:
    """A real process writing into the write end of an output pipe."""

    proc: subprocess.Popen[bytes]
    read_end: int


def spawn(code: str) -> Child:
    read_end, write_end = output_pipe()
    try:
        proc = subprocess.Popen(
            [PY, "-c", code], stdin=subprocess.PIPE, stdout=write_end, stderr=subprocess.DEVNULL
        )
    finally:
        os.close(write_end)  # the child has its copy; EOF comes when it closes it
    return Child(proc, read_end)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Children the test spawns; killed and reaped after it, whatever happened."""
    spawned: list[Child] = []
    yield spawned
    for child in spawned:
        if child.proc.poll() is None:
            child.proc.kill()
        child.proc.wait(10)
        if child.proc.stdin is not None:
            child.proc.stdin.close()


def start(children: list[Child], code: str) -> Child:
    child = spawn(code)
    children.append(child)
    return child


async def until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    """Let the loop run until ``condition`` holds; fail after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.01)


async def settled(value: Callable[[], int], quiet_s: float, within_s: float) -> int:
    """``value()`` once it has not changed for ``quiet_s``; fail after ``within_s``."""
    deadline = time.monotonic() + within_s
    last, since = value(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, f"still changing after {within_s} s"
        await asyncio.sleep(0.02)
        if value() != last:
            last, since = value(), time.monotonic()
    return last


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def is_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def make(child: Child, collected: Collected, threaded: bool) -> Reader:
    return output_reader(
        child.read_end, "stdout", collected.emit, collected.on_read, threaded=threaded
    )


def test_the_factory_picks_the_reader_the_loop_allows() -> None:
    async def main() -> tuple[type, type, type]:
        picked = []
        for threaded in (None, True, False):
            read_end, write_end = os.pipe()
            os.close(write_end)
            reader = output_reader(
                read_end, "stdout", lambda s, d: None, lambda: None, threaded=threaded
            )
            await asyncio.wait_for(reader.finished, 10)
            picked.append(type(reader))
        return picked[0], picked[1], picked[2]

    default, forced, loop = asyncio.run(main())
    assert default is (OutputReader if loop_watches_pipes() else ThreadedOutputReader)
    assert forced is ThreadedOutputReader
    assert loop is OutputReader
    assert loop_watches_pipes() == (not sys.platform.startswith("win"))


@readers
def test_a_large_stream_arrives_whole_in_order_in_chunks_of_at_most_a_chunk(
    children: list[Child], threaded: bool
) -> None:
    child = start(children, WRITER)
    collected = Collected()

    async def main() -> None:
        reader = make(child, collected, threaded)
        await asyncio.wait_for(reader.finished, 60)

    asyncio.run(main())
    assert child.proc.wait(10) == 0
    assert collected.size == TOTAL
    assert b"".join(collected.chunks) == EXPECTED
    assert max(len(chunk) for chunk in collected.chunks) <= CHUNK_BYTES
    assert all(collected.chunks)
    assert collected.streams == {"stdout"}
    assert collected.reads >= len(collected.chunks)
    assert collected.off_loop == 0
    assert is_closed(child.read_end)
    assert not reader_threads()


@readers
def test_a_small_write_is_seen_while_the_child_still_runs(
    children: list[Child], threaded: bool
) -> None:
    # The child prints a line and waits for ours: the line must arrive now,
    # not when the child ends.
    child = start(
        children,
        "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\nprint('bye', flush=True)",
    )
    collected = Collected()

    async def main() -> None:
        reader = make(child, collected, threaded)
        await until(lambda: b"".join(collected.chunks) == b"ready\n", 10, "the first line")
        assert child.proc.poll() is None
        assert not reader.finished.done()
        assert child.proc.stdin is not None
        child.proc.stdin.write(b"go\n")
        child.proc.stdin.flush()
        await asyncio.wait_for(reader.finished, 10)

    asyncio.run(main())
    assert b"".join(collected.chunks) == b"ready\nbye\n"
    assert child.proc.wait(10) == 0


@readers
def test_a_paused_reader_reads_nothing_and_the_writer_waits(
    children: list[Child], threaded: bool
) -> None:
    child = start(children, WRITER)
    collected = Collected()

    async def main() -> None:
        readers: list[Reader] = []

        def emit_then_pause(stream: str, data: bytes) -> None:
            # Paused as the first chunk arrives: waiting for it on the test's
            # side let a fast reader take all 20 MB first on a loaded machine.
            collected.emit(stream, data)
            if len(collected.chunks) == 1:
                readers[0].pause()

        readers.append(
            output_reader(
                child.read_end, "stdout", emit_then_pause, collected.on_read, threaded=threaded
            )
        )
        reader = readers[0]
        await until(lambda: collected.size > 0, 10, "the first chunk")
        # What was being read as it paused still arrives; then nothing does.
        held = await settled(lambda: collected.size, quiet_s=0.3, within_s=10)
        assert held < TOTAL
        # The child still has output to write and waits on its full pipe.
        assert child.proc.poll() is None
        if sys.platform.startswith("linux"):
            assert psutil.Process(child.proc.pid).status() == psutil.STATUS_SLEEPING
        watched_until = time.monotonic() + 0.5
        while time.monotonic() < watched_until:
            assert collected.size == held, "read while paused"
            await asyncio.sleep(0.02)
        assert child.proc.poll() is None
        reader.resume()
        await asyncio.wait_for(reader.finished, 60)

    asyncio.run(main())
    assert b"".join(collected.chunks) == EXPECTED
    assert child.proc.wait(10) == 0


@readers
def test_closing_mid_stream_stops_reading_and_closes_the_descriptor(
    children: list[Child], threaded: bool
) -> None:
    child = start(children, FOREVER)
    collected = Collected()

    async def main() -> int:
        reader = make(child, collected, threaded)
        await until(lambda: collected.size >= 1 << 20, 10, "a MiB of output")
        reader.close()
        assert reader.finished.done()
        at_close = collected.size
        reader.close()  # idempotent
        # The thread's read under way returns (the child keeps writing) and
        # it ends, closing the descriptor; what it read after close is dropped.
        await until(lambda: not reader_threads(), 10, "the reader thread to end")
        await until(lambda: is_closed(child.read_end), 10, "the descriptor to close")
        await asyncio.sleep(0)  # a hand-over already queued would run now
        assert collected.size == at_close
        return at_close

    at_close = asyncio.run(main())
    assert sum(map(len, collected.chunks)) == at_close
    assert b"".join(collected.chunks) == b"x" * at_close
    # With its pipe's read end closed, the writer fails and exits.
    assert child.proc.wait(10) != 0


def test_closing_the_thread_reader_during_a_quiet_spell_returns_at_once(
    children: list[Child],
) -> None:
    # A blocking read cannot be interrupted: close returns at once, and the
    # thread closes the descriptor when its read returns (here at end of file).
    child = start(children, "import sys\nprint('one', flush=True)\nsys.stdin.readline()")
    collected = Collected()

    async def main() -> None:
        reader = make(child, collected, threaded=True)
        await until(lambda: collected.size == 4, 10, "the first line")
        started = time.monotonic()
        reader.close()
        assert time.monotonic() - started < 0.5
        assert reader.finished.done()
        assert reader_threads(), "the thread is still in its read"
        assert not is_closed(child.read_end)
        assert child.proc.stdin is not None
        child.proc.stdin.close()  # the child ends: its read returns end of file
        await until(lambda: not reader_threads(), 10, "the reader thread to end")
        assert is_closed(child.read_end)

    asyncio.run(main())
    assert b"".join(collected.chunks) == b"one\n"
    assert child.proc.wait(10) == 0


@readers
def test_end_of_file_completes_finished_and_closes_the_descriptor(
    children: list[Child], threaded: bool
) -> None:
    child = start(children, "print('last words')")
    collected = Collected()

    async def main() -> None:
        reader = make(child, collected, threaded)
        await asyncio.wait_for(reader.finished, 10)
        reader.close()  # after end of file: nothing more to do
        await until(lambda: not reader_threads(), 10, "the reader thread to end")

    asyncio.run(main())
    assert b"".join(collected.chunks) == b"last words\n"
    assert is_closed(child.read_end)
    assert child.proc.wait(10) == 0
