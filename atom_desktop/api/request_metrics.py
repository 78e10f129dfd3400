"""The API's requests, counted by method, route, status and duration.

The security layer counts every request it answers or lets through: its
refusals and 429s as well as the app's answers (:func:`timed_send`). The
work per request is a clock read at each end, a dict lookup and a bisect
(bench/api_cost.py): no metric objects, no locks, no labels resolved per
request. The collector reads the numbers when the metrics are scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable, Iterable
from time import perf_counter

from starlette.types import Message, Scope, Send

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
        #: WebSocket sessions ended, by (route template, status): 101 for one the
        #: app accepted, else the status its handshake was refused with.
        self.websockets: dict[tuple[str, int], int] = {}
        #: WebSocket sessions the app has accepted and not yet ended.
        self.websockets_open = 0

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
        # Tally.observe, written out: this runs on every request.
        tally.counts[bisect_left(tally.bounds, seconds)] += 1
        tally.total += seconds

    def websocket_ended(self, route: str, status: int) -> None:
        """Count one WebSocket session (or refused handshake) that has ended."""
        if route not in self._routes:
            route = UNMATCHED
        key = (route, status)
        self.websockets[key] = self.websockets.get(key, 0) + 1

    @property
    def answered(self) -> int:
        """Requests answered so far, every series together.

        Summed when read (the window samples it once a second), so counting a
        request costs nothing more; safe from another thread: the series are
        copied first, and a count that grows meanwhile is read old or new.
        """
        return sum(tally.count for tally in list(self.series.values()))


def timed_send(
    send: Send, added: tuple[tuple[bytes, bytes], ...], scope: Scope, stats: RequestStats
) -> Send:
    """``send`` that appends ``added`` to the answer's headers (as the security
    layer's ``adding_headers``) and counts the request in ``stats`` once its
    answer has ended.

    One wrapper for both: the security layer wraps every answer's ``send``
    already, and a layer of its own for the metrics (one more call per
    request, two more per answer) cost more than the counting itself
    (bench/api_cost.py). A plain function returning send's awaitable: no
    coroutine frame per message.
    """
    start = perf_counter()
    status = 0
    observe = stats.observe

    def send_timed(message: Message) -> Awaitable[None]:
        nonlocal status
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *added]
            status = message["status"]
        elif not message.get("more_body", False):
            route = scope.get("atom_route", UNMATCHED)  # none before the Host check passed
            observe(scope["method"], route, status, perf_counter() - start)
        return send(message)

    return send_timed
