"""Live output of runs, carried from the agent loop to the window in batches.

On the agent loop each followed run is read with the runner's own
:func:`follow_run` (backlog, live, exit; the same order and resume rules as
the API's streams), decoded incrementally (UTF-8, replacement for bad bytes),
and handed to the Qt thread at most ~60 times a second or per MiB, so a flood
costs the window a handful of signals, not one per chunk.

Flow control: only a few batches may be in flight to the Qt thread. When the
window falls behind, the follower stops reading, the runner marks it as
lagging, and it resumes from the stored log: memory stays bounded and what
the cap dropped is reported as ``dropped``, never silently lost.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from atom_desktop.gui.agent_host import AgentHost

if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime

BATCH_BYTES = 1024 * 1024
BATCH_AFTER_S = 0.016
IN_FLIGHT = 4


class _Follow:
    """One followed run on the agent loop: what is pending and what is in flight."""

    def __init__(self, emit: Callable[[list[tuple[str, str]]], None]) -> None:
        self.closing = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self._emit = emit
        self._pending: list[tuple[str, str]] = []
        self._size = 0
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flush_wanted = False

    async def add(self, stream: str, text: str, size: int) -> None:
        if self._pending and self._pending[-1][0] == stream:
            self._pending[-1] = (stream, self._pending[-1][1] + text)
        else:
            self._pending.append((stream, text))
        self._size += size
        if self._size >= BATCH_BYTES:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(BATCH_AFTER_S, self._on_timer)

    async def flush(self) -> None:
        """Send what is pending, waiting for room first (this is the back-pressure)."""
        await self.room.wait()
        self._send()

    def consumed(self) -> None:
        self._in_flight -= 1
        if self._in_flight < IN_FLIGHT:
            self.room.set()
            if self._flush_wanted:
                self._send()

    def _on_timer(self) -> None:
        self._timer = None
        if self.room.is_set():
            self._send()
        else:
            self._flush_wanted = True

    def _send(self) -> None:
        self._flush_wanted = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending, self._size = self._pending, [], 0
        self._in_flight += 1
        if self._in_flight >= IN_FLIGHT:
            self.room.clear()
        self._emit(batch)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class RunFeed(QObject):
    """Follows runs for the console; signals arrive on the Qt thread."""

    output = Signal(str, list)  # run id, [(stream, text), ...] in order
    dropped = Signal(str, int, int)  # run id, first and last seq that are gone
    ended = Signal(str, dict)  # run id, {"status", "exit_code", "signal", "last_seq"}

    def __init__(self, host: AgentHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._follows: dict[str, _Follow] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def follow(self, run_id: str) -> None:
        """Start delivering ``run_id``'s output from its first byte."""
        if run_id not in self._follows:
            self._host.call(lambda runtime: self._async_follow(runtime, run_id))

    def stop(self, run_id: str) -> None:
        """Stop delivering ``run_id`` (the run itself goes on)."""
        follow = self._follows.get(run_id)
        if follow is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(follow.closing.set)

    def consumed(self, run_id: str) -> None:
        """The window has shown a batch of ``run_id``: another may be sent."""
        follow = self._follows.get(run_id)
        if follow is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(follow.consumed)

    async def _async_follow(self, runtime: Runtime, run_id: str) -> None:
        # Imported on the agent thread: the runner and the store stay out of
        # the window's start-up.
        from atom_desktop.runner.follow import follow_run  # noqa: PLC0415
        from atom_desktop.store.runs import Chunk  # noqa: PLC0415

        self._loop = asyncio.get_running_loop()
        follow = _Follow(lambda batch: self.output.emit(run_id, batch))
        self._follows[run_id] = follow
        decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        try:
            async for item in follow_run(runtime.runner, run_id, 0, follow.closing):
                if isinstance(item, Chunk):
                    text = decoders[item.stream].decode(item.data)
                    await follow.add(item.stream, text, len(item.data))
                elif isinstance(item, tuple):
                    await follow.flush()
                    self.dropped.emit(run_id, item[0], item[1])
                else:
                    for name, decoder in decoders.items():
                        tail = decoder.decode(b"", final=True)
                        if tail:
                            await follow.add(name, tail, len(tail))
                    await follow.flush()
                    self.ended.emit(run_id, dict(item))
        finally:
            follow.close()
            self._follows.pop(run_id, None)
