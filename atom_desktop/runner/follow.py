"""Following a run's output: backlog, then live, then the exit, nothing twice.

Shared by every viewer (the API's SSE and WebSocket streams, the window's
console), so all of them get the same order, resume and lag behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from atom_desktop.core.loop_turns import LoopTurns
from atom_desktop.core.output import Chunk
from atom_desktop.runner.output import ENDED, LAGGED
from atom_desktop.runner.service import RunnerService

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Dropped:
    """Output between these sequence numbers (inclusive) was not kept (the run's cap)."""

    first_seq: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Exited:
    """The run has ended: how, and the sequence number of its last chunk."""

    status: str
    exit_code: int | None
    signal: int | None
    last_seq: int


# What a viewer of a run's output receives, in order: chunks (with Dropped
# where a range was not kept), then at most one Exited.
RunOutputEvent = Chunk | Dropped | Exited


async def next_or_closed(queue: asyncio.Queue[T], closing: asyncio.Event) -> T | None:
    """The next queued item, or None once ``closing`` is set."""
    if closing.is_set():
        return None
    if not queue.empty():
        # The common case in a flood: no need for two waiting tasks per chunk.
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    closed = asyncio.ensure_future(closing.wait())
    try:
        done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
        return getter.result() if getter in done else None
    finally:
        # Also when the viewer's task is cancelled (its client went away):
        # a waiting task left behind would be destroyed while still pending.
        closed.cancel()
        getter.cancel()


async def follow_run(  # noqa: PLR0912 - one state machine, read top to bottom
    runner: RunnerService, run_id: str, after: int, closing: asyncio.Event
) -> AsyncIterator[RunOutputEvent]:
    """Chunks after ``after`` in order (:class:`Dropped` where output was not kept), then the exit.

    Live chunks come from memory; a viewer that falls behind, and one that
    arrives late, reads the stored log instead. Nothing is sent twice.
    """
    viewer = runner.watch(run_id)
    last = after
    turns = LoopTurns()
    try:
        while True:
            # Catch up from the log (and from memory for what is not saved yet).
            while True:
                if closing.is_set():
                    return  # the viewer went away while catching up
                batch = await runner.async_backlog(run_id, last)
                if not batch:
                    break
                for chunk in batch:
                    if chunk.seq > last + 1:
                        yield Dropped(last + 1, chunk.seq - 1)
                    last = chunk.seq
                    yield chunk
                    await turns.share()
            if viewer is None:
                break
            if viewer.lagging:
                viewer.resume()
                continue
            item = await next_or_closed(viewer.queue, closing)
            if item is None:
                return
            if item is ENDED:
                viewer.queue.put_nowait(ENDED)
                runner.unwatch(run_id, viewer)
                viewer = None
                continue  # drain the now complete log, then send the exit
            if item is LAGGED:
                continue
            assert isinstance(item, Chunk)
            viewer.taken(item)
            if item.seq <= last:
                continue
            if item.seq > last + 1:
                viewer.resume()  # fetch the missing ones from the log first
                continue
            last = item.seq
            yield item
            # In a flood the queue is never empty, so nothing above waits.
            await turns.share()
        record = await runner.async_record(run_id)
        if record.finished:
            yield Exited(record.status, record.exit_code, record.signal, record.last_seq)
    finally:
        if viewer is not None:
            runner.unwatch(run_id, viewer)
