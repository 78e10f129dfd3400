"""Server-sent events read from a streaming httpx response (the parts both providers use)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import httpx


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One event: its ``event:`` name ("message" when none was given) and its data lines joined."""

    event: str
    data: str


async def server_events(response: httpx.Response) -> AsyncGenerator[ServerEvent, None]:
    """The events of ``response``'s body, as the SSE format frames them.

    A blank line ends an event; several ``data:`` lines join with newlines;
    lines starting with ``:`` are comments (keep-alives); ``id:`` and
    ``retry:`` mean nothing to a one-shot answer and are skipped.
    """
    name = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield ServerEvent(name or "message", "\n".join(data))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field_name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field_name == "event":
            name = value
        elif field_name == "data":
            data.append(value)
    if data:  # a last event without its blank line: the server closed right after it
        yield ServerEvent(name or "message", "\n".join(data))
