"""The port every long-lived part of the agent implements."""

from __future__ import annotations

from typing import Protocol


class Service(Protocol):
    """Something the runtime starts in order and stops in reverse order."""

    @property
    def name(self) -> str:
        """A short name for logs and errors."""
        ...

    async def async_start(self) -> None:
        """Start; raise an AtomError with a clear message if that is impossible."""
        ...

    async def async_stop(self) -> None:
        """Stop and release everything (threads, files, processes)."""
        ...
