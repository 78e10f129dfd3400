"""uvicorn's httptools protocol with a bounded request head.

httptools (llhttp) sets no limit on a request's head: it gathers a header
line across reads until the line ends, and uvicorn keeps every header it is
given. One 96 MiB header to ``/api/v1/health`` cost the agent 12 s of CPU and
176 MiB before any check of the security layer could run, and 20,000 headers
were taken as well. :class:`HeadLimitedProtocol` answers ``431 Request Header
Fields Too Large`` and closes the connection, reading no more, as soon as a
request's head passes :class:`HeadLimits`. A WebSocket handshake is an HTTP
request to this parser before uvicorn hands the connection to the WebSocket
protocol, so the same limits apply to it.

What this relies on in uvicorn's ``HttpToolsProtocol`` (and
``tests/unit/api/test_http_protocol.py`` fails loudly if it changes): the
parser callbacks ``on_message_begin``, ``on_headers_complete`` and
``on_body``; ``self.headers`` and ``self.url`` are the request's as reported
so far; ``on_headers_complete`` starts (or queues) the request with
``self.app`` or hands a handshake to ``handle_websocket_upgrade``;
``on_response_complete`` runs after each answer; ``self.cycle``,
``self.pipeline``, ``self.scope`` and ``self.flow`` are what their names say.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

logger = logging.getLogger(__name__)

#: The status line of the refusal (RFC 6585).
STATUS_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
#: On the refusal, as on every answer of the API: the security layer's
#: ``API_HEADERS`` (a test keeps the two equal: this module must not load the
#: agent's modules, which the security layer does), and the end of the
#: connection.
REFUSAL_HEADERS = (
    (b"content-type", b"application/json"),
    (b"connection", b"close"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
#: Beyond the names and values: the colons, spaces and line ends of up to
#: 100 header lines and the request line, which reach the parser as well.
FRAMING_SLACK = 1024


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """How large a request's head may be.

    ``max_bytes`` counts the request target and every header name and value
    (so a single header is bounded by it too); ``max_lines`` counts header
    lines. Node.js allows 16 KiB in all, nginx and Apache 8 KiB a line, Apache
    and Tomcat 100 lines: any real client fits in 64 KiB and 100 lines, with
    room for a long URL or a large token, and no request costs the agent much
    more than that before it is refused. The body has a limit of its own, in
    the security layer.
    """

    max_bytes: int = 64 * 1024
    max_lines: int = 100

    def breach(self, *, size: int, lines: int, unreported: int) -> str | None:
        """What a request passes of these limits (a message for its sender), or None.

        ``size`` is the bytes of the target and of the header names and values,
        ``lines`` the number of header lines, ``unreported`` the bytes the
        parser was given in reads in which it completed nothing (the part of a
        head that is still arriving, framing included).
        """
        if lines > self.max_lines:
            return f"The request has more than {self.max_lines} header lines. Send fewer headers."
        if size > self.max_bytes or unreported > self.max_bytes + FRAMING_SLACK:
            return (
                f"The request's headers are larger than {self.max_bytes // 1024} KiB "
                "(the target and every header name and value count). "
                "Send fewer or shorter headers."
            )
        return None


def refusal_body(message: str) -> bytes:
    """The JSON body of a 431."""
    return json.dumps({"error": {"code": "headers_too_large", "message": message}}).encode()


def refusal(message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole 431 answer, after uvicorn's default headers (Date)."""
    body = refusal_body(message)
    headers = (
        *default_headers,
        *REFUSAL_HEADERS,
        (b"content-length", str(len(body)).encode("ascii")),
    )
    lines = [STATUS_LINE, *(name + b": " + value + b"\r\n" for name, value in headers)]
    return b"".join([*lines, b"\r\n", body])


class _Refusal:
    """An ASGI app that answers a refused request with 431, in its turn."""

    def __init__(self, message: str) -> None:
        self.body = refusal_body(message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*REFUSAL_HEADERS, (b"content-length", str(len(self.body)).encode("ascii"))]
        await send({"type": "http.response.start", "status": 431, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that refuses a request head past :class:`HeadLimits`.

    Counted once a request's head has ended (``on_headers_complete``): its
    lines, and its size when the reads that carried it could hold more than
    the limit. Counted after every read: the lines reported so far, and the
    bytes of reads in which the parser completed nothing (no request begun,
    no head ended, no body) — a header line that never ends, or arrives a byte
    at a time, is held by the parser unreported and is refused so. What the
    parser holds is bounded by the limit and one read (256 KiB).

    A head that has ended is refused through uvicorn's own request cycle, so
    the 431 takes its turn behind earlier requests on the connection; one
    refused while arriving is answered directly, once the answers before it
    are out. Either way nothing more is read, and the connection closes.

    Nothing is counted per header: a Python callback per header line costs
    about 8% of a bare ``/health`` answer (measured with cachegrind).
    """

    limits = HeadLimits()
    # Slots, not the instance's dict: uvicorn's protocol has 28 attributes of
    # its own, and past 30 Python stops sharing the dict's keys among
    # instances, which makes every attribute access of uvicorn's slower.
    __slots__ = ("_begin_read", "_moved", "_quiet", "_read", "_refused", "_unanswered")

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # The length of the read being parsed, and of the one a request began in.
        self._read = 0
        self._begin_read = 0
        # Whether the parser completed anything in this read; the bytes of
        # reads since it last did.
        self._moved = False
        self._quiet = 0
        # Once refused, why (nothing more is read), and whether the 431 is
        # still ours to send.
        self._refused: str | None = None
        self._unanswered = False

    def data_received(self, data: bytes) -> None:
        """Parse a read, then refuse if a head that is still arriving is too large."""
        if self._refused is not None:
            # Neither parsed nor kept: the connection ends after the 431.
            return
        read = self._read = len(data)
        self._moved = False
        super().data_received(data)
        if self._refusing():
            return
        self._quiet = 0 if self._moved else self._quiet + read
        headers = self.headers  # None before the first request begins
        lines = len(headers) if headers is not None else 0
        if lines > self.limits.max_lines or self._quiet > self.limits.max_bytes + FRAMING_SLACK:
            self._refused = self.limits.breach(size=0, lines=lines, unreported=self._quiet)
            self._unanswered = True
            self._log()
            self._refuse_arriving()

    def on_message_begin(self) -> None:
        """A request begins in this read."""
        self._moved = True
        self._begin_read = self._read
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """A head has ended: refuse it if it passed a limit, else let uvicorn run it."""
        began_here = self._moved
        self._moved = True
        # At most what the reads that carried the head hold: small reads need
        # no counting.
        span = self._read if began_here else self._begin_read + self._quiet + self._read
        if len(self.headers) > self.limits.max_lines or span > self.limits.max_bytes:
            size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
            message = self.limits.breach(size=size, lines=len(self.headers), unreported=0)
            if message is not None:
                self._refuse_ended(message)
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Body bytes complete something too (the body has its own limit)."""
        self._moved = True
        super().on_body(body)

    def handle_websocket_upgrade(self) -> None:
        """Hand a handshake to the WebSocket protocol, unless its head was refused."""
        if self._unanswered:
            self._refuse_arriving()
            return
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        """After an answer: a 431 waiting behind it may go now."""
        super().on_response_complete()
        if self._unanswered:
            self._refuse_arriving()

    def _refusing(self) -> bool:
        # A method, so a type checker does not take _refused as still unset
        # after the parser's callbacks ran.
        return self._refused is not None

    def _log(self) -> None:
        host, port = self.client or ("a client", 0)
        logger.warning("Refused a request from %s:%d: %s", host, port, self._refused)

    def _refuse_ended(self, message: str) -> None:
        """Refuse a head that has ended, in its turn, through uvicorn's request cycle."""
        self._refused = message
        self._log()
        # A handshake goes to handle_websocket_upgrade instead of a cycle:
        # answered there, unless uvicorn starts a cycle for it below.
        self._unanswered = True
        app, cycle = self.app, self.cycle
        self.app = _Refusal(message)
        try:
            super().on_headers_complete()
        finally:
            self.app = app
        if self.cycle is not cycle:
            self._unanswered = False
            # No use to anyone now (a handshake's are read once more, by uvicorn).
            self.headers.clear()

    def _refuse_arriving(self) -> None:
        """Answer 431 and close, once the answers to earlier requests are out."""
        if self.transport.is_closing():
            self._unanswered = False
            return
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            # The request's head was taken and it runs: these are the trailers
            # of its chunked body. Its answer may be under way; the handler
            # sees the connection end.
            self._unanswered = False
            self.transport.close()
            return
        if (cycle is not None and not cycle.response_complete) or self.pipeline:
            # Answers go out in the order of the requests; read nothing meanwhile.
            self.flow.pause_reading()
            return
        self._unanswered = False
        self.headers.clear()
        assert self._refused is not None
        self.transport.write(refusal(self._refused, self.server_state.default_headers))
        self.transport.close()
