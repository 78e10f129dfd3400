"""Every open stream and WebSocket, by the token that opened it.

The security layer checks a token once, when a request arrives; a stream
then stays open for as long as its client likes. So that revoking a token
takes back what it already opened, each stream registers here and waits on
its own ``stop`` event, which is set when the token that opened it stops
being valid (revoked, or the owner token replaced), or when the agent stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from atom_desktop.api.auth import Principal, TokenAuthority

REVOKED = "token_revoked"
CLOSING = "agent_stopping"
#: The client closed or dropped the connection.
CLIENT_GONE = "client_gone"


@dataclass(eq=False)
class StreamStop:
    """Set when a stream must end; ``reason`` says why (``REVOKED``, ``CLOSING`` or
    ``CLIENT_GONE``)."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None

    def end(self, reason: str) -> None:
        """End the stream (on the loop); the first reason given is kept."""
        if self.reason is None:
            self.reason = reason
        self.event.set()


class OpenStreams:
    """Tracks open streams so a revocation or a stop ends them at once.

    Lives on the agent's loop: :meth:`open` and :meth:`end_all` are called
    there; the authority calls the revocation listener from any thread.
    """

    def __init__(self, authority: TokenAuthority) -> None:
        # The loop the streams run on, known from the first one opened.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_token: dict[str, set[StreamStop]] = {}
        self._closing = False
        self._unsubscribe = authority.on_revoked(self._revoked_from_any_thread)

    @contextlib.contextmanager
    def open(self, principal: Principal | None) -> Iterator[StreamStop]:
        """Register a stream for its lifetime; wait on the ``event`` of what this yields."""
        self._loop = asyncio.get_running_loop()
        stop = StreamStop()
        key = principal.token_id if principal is not None else ""
        if self._closing:
            stop.end(CLOSING)
        self._by_token.setdefault(key, set()).add(stop)
        try:
            yield stop
        finally:
            streams = self._by_token.get(key)
            if streams is not None:
                streams.discard(stop)
                if not streams:
                    del self._by_token[key]

    def count(self) -> int:
        """How many streams are open now."""
        return sum(len(s) for s in self._by_token.values())

    def end_all(self) -> None:
        """The agent is stopping: end every stream, and any opened from now on."""
        self._closing = True
        self._unsubscribe()
        for streams in list(self._by_token.values()):
            for stop in list(streams):
                stop.end(CLOSING)

    def _revoked_from_any_thread(self, token_ids: frozenset[str]) -> None:
        loop = self._loop
        if loop is not None:  # else no stream was ever opened
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(self._end_revoked, token_ids)

    def _end_revoked(self, token_ids: frozenset[str]) -> None:
        for token_id in token_ids:
            for stop in list(self._by_token.get(token_id, ())):
                stop.end(REVOKED)
