"""Pieces shared by the streaming routes (SSE and WebSocket)."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from atom_desktop.api.schemas import MAX_ID

T = TypeVar("T")


def resume_point(value: str | None, default: int) -> int:
    """A ``Last-Event-ID`` / ``since`` value as a sequence number (``default`` if unusable)."""
    if value is None:
        return default
    try:
        return max(0, min(int(value), MAX_ID))
    except ValueError:
        return default


async def next_or_closed(queue: asyncio.Queue[T], closing: asyncio.Event) -> T | None:
    """The next queued item, or None once the agent is stopping."""
    getter = asyncio.ensure_future(queue.get())
    closed = asyncio.ensure_future(closing.wait())
    done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        closed.cancel()
        return getter.result()
    getter.cancel()
    return None
