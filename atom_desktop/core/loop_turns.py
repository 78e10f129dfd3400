"""Sharing the event loop fairly during long runs of work that never waits."""

from __future__ import annotations

import asyncio
import time


class LoopTurns:
    """Lets the event loop run other work after every ``budget_s`` of ours.

    A coroutine whose awaits rarely wait (a pipe reader with a full buffer, a
    viewer sending a batch read back from the log over a socket that keeps
    up) would otherwise run for tens of milliseconds as one step of the loop,
    and every other request would wait behind it. Call :meth:`share` after
    each piece of such work.
    """

    def __init__(self, budget_s: float = 0.0005) -> None:
        self._budget_s = budget_s
        self._since = time.perf_counter()

    async def share(self) -> None:
        """Give the loop a turn if our budget since the last one is spent."""
        if time.perf_counter() - self._since >= self._budget_s:
            await asyncio.sleep(0)
            self._since = time.perf_counter()
