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

from atom_desktop.core.output import Chunk

CHUNK_BYTES = 64 * 1024
VIEWER_BUDGET = 4 * 1024 * 1024
# Saved tail chunks kept in memory for viewers catching up with a flood (the
# whole tail at the default cap).
TAIL_MEMORY = 8 * 1024 * 1024


class OutputLog:
    """What will be stored of a run's output: head, tail, and a count of the rest.

    Memory holds what the store has not taken yet (``unsaved_bytes``; the
    runner stops reading while that is large) and, for viewers catching up,
    the newest saved tail chunks up to ``tail_memory`` bytes. Everything else
    of the head and tail is only in the store.
    """

    def __init__(self, cap: int, tail_memory: int = TAIL_MEMORY) -> None:
        self.head_budget = cap // 2
        self.tail_budget = cap - self.head_budget
        self.head_used = 0
        self.last_head_seq = 0
        self.dropped_bytes = 0
        self.unsaved_bytes = 0
        self._tail_memory = tail_memory
        self._unsaved_head: list[Chunk] = []
        # Every chunk of the tail as (seq, size), to know what to drop...
        self._tail_sizes: deque[tuple[int, int]] = deque()
        self._tail_bytes = 0
        # ...and the newest of them with their data: a suffix of the tail.
        self._tail: deque[Chunk] = deque()
        self._tail_memory_bytes = 0
        self._saved_tail_seq = 0

    def add(self, chunk: Chunk) -> None:
        """Account for a new chunk."""
        size = len(chunk.data)
        self.unsaved_bytes += size
        if not self._tail_sizes and self.head_used + size <= self.head_budget:
            self._unsaved_head.append(chunk)
            self.head_used += size
            self.last_head_seq = chunk.seq
            return
        self._tail_sizes.append((chunk.seq, size))
        self._tail_bytes += size
        self._tail.append(chunk)
        self._tail_memory_bytes += size
        while self._tail_bytes > self.tail_budget and len(self._tail_sizes) > 1:
            seq, old_size = self._tail_sizes.popleft()
            self._tail_bytes -= old_size
            self.dropped_bytes += old_size
            if self._tail and self._tail[0].seq == seq:
                self._tail.popleft()
                self._tail_memory_bytes -= old_size
                if seq > self._saved_tail_seq:
                    self.unsaved_bytes -= old_size
        self._evict()

    def _evict(self) -> None:
        # Saved chunks beyond the allowance are read from the store instead.
        while (
            self._tail_memory_bytes > self._tail_memory
            and self._tail
            and self._tail[0].seq <= self._saved_tail_seq
        ):
            self._tail_memory_bytes -= len(self._tail.popleft().data)

    def unsaved(self) -> list[Chunk]:
        """Chunks not yet in the store (for viewers catching up), in order."""
        return [*self._unsaved_head, *(c for c in self._tail if c.seq > self._saved_tail_seq)]

    def from_memory(self, after: int, limit: int) -> list[Chunk] | None:
        """Up to ``limit`` chunks with seq > ``after``, if memory holds the first of them.

        None when only the store has the next one. A gap before the tail is
        output that was dropped.
        """
        head = self._unsaved_head
        found: list[Chunk] = []
        if after < self.last_head_seq:
            if not head or head[0].seq > after + 1:
                return None
            # The unsaved head is the newest part of the head, without gaps.
            found = head[after + 1 - head[0].seq : after + 1 - head[0].seq + limit]
        if len(found) >= limit or not self._tail_sizes:
            return found
        wanted = max(found[-1].seq if found else after, self._tail_sizes[0][0] - 1) + 1
        if not self._tail or wanted < self._tail[0].seq:
            return found or None  # the store has the older part of the tail
        skip = wanted - self._tail[0].seq
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
        if self.dropped_bytes and self._tail_sizes:
            drop = (self.last_head_seq, self._tail_sizes[0][0])
        return batch, drop

    def saved(self, batch: list[Chunk]) -> None:
        """The batch is in the store now."""
        if not batch:
            return
        saved_seqs = {c.seq for c in batch}
        self._unsaved_head = [c for c in self._unsaved_head if c.seq not in saved_seqs]
        # Head seqs all precede the tail's, so this is right for a head-only batch too.
        self._saved_tail_seq = max(self._saved_tail_seq, *saved_seqs)
        self.unsaved_bytes = sum(len(c.data) for c in self.unsaved())
        self._evict()


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
