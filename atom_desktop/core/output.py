"""A piece of a run's output, as every layer speaks of it.

Here in core, not in the store or the runner: the runner makes chunks, the
store keeps them, and the API and the window show them, and none of those
should have to import another to name one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of output: per-run sequence number, stream, time, exact bytes."""

    seq: int
    stream: str
    at: datetime
    data: bytes
