"""The API's requests, counted by method, route, status and duration.

A layer outside every other: it sees refusals (the security layer's 4xx and
429) as well as answers. Its work per request is a clock read at each end, a
dict lookup and a bisect (bench/api_cost.py): no metric objects, no locks,
no labels resolved per request. The collector reads the numbers when the
metrics are scraped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atom_desktop.core.tally import Tally

#: The route label of a request that matched no route (or was refused before
#: its route was looked up): paths are not labels, or any caller could make
#: the metrics grow without end.
UNMATCHED = "(unmatched)"


class RequestStats:
    """A duration tally per (method, route template, status)."""

    def __init__(self, routes: Iterable[str]) -> None:
        self._routes = frozenset(routes)
        self.series: dict[tuple[str, str, int], Tally] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (method, route, status)
        tally = self.series.get(key)
        if tally is None:
            if route not in self._routes:
                key = (method, UNMATCHED, status)
            tally = self.series.get(key)
            if tally is None:
                tally = self.series[key] = Tally()
        tally.observe(seconds)


class RequestMetrics:
    """ASGI layer that times every HTTP request into :class:`RequestStats`.

    Like the security layer, ``__call__`` and the ``send`` wrapper are plain
    functions returning what the server awaits (no coroutine frame of their
    own). The route is the template the security layer found (``atom_route``
    in the scope). A request whose answer never starts is not counted here.
    """

    def __init__(self, app: ASGIApp, *, stats: RequestStats) -> None:
        self.app = app
        self._stats = stats

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """ASGI entry point (ASGI 3, though not a coroutine function)."""
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        start = perf_counter()
        status = 0
        observe = self._stats.observe

        def timed_send(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body", False):
                route = scope.get("atom_route", UNMATCHED)
                observe(scope["method"], route, status, perf_counter() - start)
            return send(message)

        return self.app(scope, receive, timed_send)
