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
import dataclasses
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
        # Runs of one stream; the pieces are joined once, when the batch goes
        # (adding to one growing string would copy a megabyte over and over).
        self._pending: list[tuple[str, list[str]]] = []
        self._size = 0
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flush_wanted = False
        self.stopped = False

    async def add(self, stream: str, text: str, size: int) -> None:
        if self._pending and self._pending[-1][0] == stream:
            self._pending[-1][1].append(text)
        else:
            self._pending.append((stream, [text]))
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
        batch = [(stream, "".join(pieces)) for stream, pieces in self._pending]
        self._pending, self._size = [], 0
        self._in_flight += 1
        if self._in_flight >= IN_FLIGHT:
            self.room.clear()
        self._emit(batch)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class RunFeed(QObject):
    """Follows runs for the console; signals arrive on the Qt thread.

    Each :meth:`follow` gets its own token, so the same run opened twice (a
    tab closed and reopened) is two independent follows, never one feeding
    the other.
    """

    output = Signal(int, list)  # token, [(stream, text), ...] in order
    dropped = Signal(int, int, int)  # token, first and last seq that are gone
    ended = Signal(int, dict)  # token, {"status", "exit_code", "signal", "last_seq"}
    failed = Signal(int, str)  # token, why the output cannot be followed

    def __init__(self, host: AgentHost, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host = host
        # Token -> follow; written on the Qt thread only.
        self._follows: dict[int, _Follow] = {}
        self._next_token = 1

    def follow(self, run_id: str) -> int:
        """Start delivering ``run_id``'s output from its first byte; returns the token."""
        token = self._next_token
        self._next_token += 1
        follow = _Follow(lambda batch: self.output.emit(token, batch))
        self._follows[token] = follow
        self._host.call(
            lambda runtime: self._async_follow(runtime, run_id, token, follow),
            lambda _: self._follows.pop(token, None),
            lambda error: self._on_error(token, str(error)),
        )
        return token

    def stop(self, token: int) -> None:
        """Stop a follow (the run itself goes on)."""
        follow = self._follows.pop(token, None)
        if follow is not None:
            follow.stopped = True  # seen by a follow that has not begun yet
            self._on_loop(follow.closing.set)

    def consumed(self, token: int) -> None:
        """The window has shown a batch of this follow: another may be sent."""
        follow = self._follows.get(token)
        if follow is not None:
            self._on_loop(follow.consumed)

    def _on_loop(self, callback: Callable[[], object]) -> None:
        loop = self._host.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback)

    def _on_error(self, token: int, message: str) -> None:
        self._follows.pop(token, None)
        self.failed.emit(token, message)

    async def _async_follow(
        self, runtime: Runtime, run_id: str, token: int, follow: _Follow
    ) -> None:
        # Imported on the agent thread: the runner and the store stay out of
        # the window's start-up.
        from atom_desktop.core.output import Chunk  # noqa: PLC0415
        from atom_desktop.runner.follow import Dropped, Exited, follow_run  # noqa: PLC0415

        if follow.stopped:
            return
        decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        try:
            async for item in follow_run(runtime.runner, run_id, 0, follow.closing):
                match item:
                    case Chunk():
                        text = decoders[item.stream].decode(item.data)
                        await follow.add(item.stream, text, len(item.data))
                    case Dropped():
                        await follow.flush()
                        self.dropped.emit(token, item.first_seq, item.last_seq)
                    case Exited():
                        for name, decoder in decoders.items():
                            tail = decoder.decode(b"", final=True)
                            if tail:
                                await follow.add(name, tail, len(tail))
                        await follow.flush()
                        self.ended.emit(token, dataclasses.asdict(item))
        finally:
            follow.close()
