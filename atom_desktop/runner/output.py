"""A run's output: framed into chunks, kept within a cap, fanned out to viewers.

Framing is per chunk, never per line: bytes of one stream are read into
chunks of up to 64 KiB (``runner/pipes.py`` says when a chunk ends). Every
chunk gets the next sequence number of its run. The stored log keeps the
first half of the cap (head) and the last half (tail); what falls between is
counted and reported as dropped.
Live viewers get chunks from memory; a viewer that falls more than its
budget behind is told so and catches up from the log, so neither a slow
viewer nor a fast child can grow the agent's memory without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from itertools import islice

from atom_desktop.store.runs import Chunk

CHUNK_BYTES = 64 * 1024
VIEWER_BUDGET = 4 * 1024 * 1024


class OutputLog:
    """What will be stored of a run's output: head, tail, and a count of the rest."""

    def __init__(self, cap: int) -> None:
        self.head_budget = cap // 2
        self.tail_budget = cap - self.head_budget
        self.head_used = 0
        self.last_head_seq = 0
        self.dropped_bytes = 0
        self._unsaved_head: list[Chunk] = []
        self._tail: deque[Chunk] = deque()
        self._tail_bytes = 0
        self._saved_tail_seq = 0

    def add(self, chunk: Chunk) -> None:
        """Account for a new chunk."""
        size = len(chunk.data)
        if not self._tail and self.head_used + size <= self.head_budget:
            self._unsaved_head.append(chunk)
            self.head_used += size
            self.last_head_seq = chunk.seq
            return
        self._tail.append(chunk)
        self._tail_bytes += size
        while self._tail_bytes > self.tail_budget and len(self._tail) > 1:
            old = self._tail.popleft()
            self._tail_bytes -= len(old.data)
            self.dropped_bytes += len(old.data)

    def unsaved(self) -> list[Chunk]:
        """Chunks not yet in the store (for viewers catching up), in order."""
        return [*self._unsaved_head, *(c for c in self._tail if c.seq > self._saved_tail_seq)]

    def from_memory(self, after: int, limit: int) -> list[Chunk] | None:
        """Up to ``limit`` chunks with seq > ``after``, if memory holds all of them.

        None when the next one is a saved head chunk: only the store has it.
        Past the head the whole tail is in memory, saved or not, and a gap
        before it is output that was dropped.
        """
        head = self._unsaved_head
        found: list[Chunk] = []
        if after < self.last_head_seq:
            if not head or head[0].seq > after + 1:
                return None
            # The unsaved head is the newest part of the head, without gaps.
            found = head[after + 1 - head[0].seq : after + 1 - head[0].seq + limit]
        if self._tail and len(found) < limit:
            skip = max(0, after + 1 - self._tail[0].seq)
            found += islice(self._tail, skip, skip + limit - len(found))
        return found

    @property
    def dropping(self) -> bool:
        """Whether output beyond the cap is being dropped (the tail is churning)."""
        return self.dropped_bytes > 0

    def take_batch(
        self, *, include_tail: bool = True
    ) -> tuple[list[Chunk], tuple[int, int] | None]:
        """What to write now, and which stored seqs (exclusive range) to delete.

        Without ``include_tail`` only the head is written: while a flood churns
        the tail, most of it would be written only to be deleted again.
        """
        batch = self.unsaved() if include_tail else list(self._unsaved_head)
        drop = None
        if self.dropped_bytes and self._tail:
            drop = (self.last_head_seq, self._tail[0].seq)
        return batch, drop

    def saved(self, batch: list[Chunk]) -> None:
        """The batch is in the store now."""
        if not batch:
            return
        saved_seqs = {c.seq for c in batch}
        self._unsaved_head = [c for c in self._unsaved_head if c.seq not in saved_seqs]
        # Head seqs all precede the tail's, so this is right for a head-only batch too.
        self._saved_tail_seq = max(self._saved_tail_seq, *saved_seqs)


class _Lagged:
    """Sent to a viewer that fell too far behind: catch up from the log."""


class _Ended:
    """Sent when the run has ended and its log is complete."""


LAGGED = _Lagged()
ENDED = _Ended()


class Viewer:
    """One live viewer's queue, bounded in bytes."""

    def __init__(self, budget: int = VIEWER_BUDGET) -> None:
        self.queue: asyncio.Queue[Chunk | _Lagged | _Ended] = asyncio.Queue()
        self._budget = budget
        self._queued = 0
        self.lagging = False

    def offer(self, chunk: Chunk) -> None:
        """Queue a chunk, or mark the viewer as lagging (and drop it) when over budget."""
        if self.lagging:
            return
        if self._queued + len(chunk.data) > self._budget:
            self.lagging = True
            self.queue.put_nowait(LAGGED)
            return
        self._queued += len(chunk.data)
        self.queue.put_nowait(chunk)

    def taken(self, chunk: Chunk) -> None:
        """The viewer consumed a chunk."""
        self._queued -= len(chunk.data)

    def resume(self) -> None:
        """After catching up from the log, take live chunks again."""
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, _Ended):
                self.queue.put_nowait(item)
                break
        self._queued = 0
        self.lagging = False


def now() -> datetime:
    """The timestamp chunks carry."""
    return datetime.now(UTC)
