"""Server-Sent Events read from a response's lines: (event name, JSON data) pairs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """Each event's name (``message`` when it has none) and its data read as JSON.

    Comments (heartbeats) are skipped; an event's data lines are joined as the
    SSE format says, with newlines.
    """
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, json.loads("\n".join(data))
            kind, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            kind = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    if data:
        yield kind, json.loads("\n".join(data))
