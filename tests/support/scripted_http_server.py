"""A loopback HTTP/1.1 server that answers from a script: the base of the LLM fakes.

Each request takes the next :class:`Reply` from the script (whole bodies with
a Content-Length, or streamed bodies sent as chunked transfer, one chunk per
event and flushed, as a streaming API sends them). Every request is recorded
with the moment it arrived by the server's own clock (``time.monotonic``),
and every reply with the moment it was sent, so a test can tell how long a
client waited between two requests without timing anything itself.

It is a fake: it speaks HTTP/1.1 well enough for httpx (keep-alive,
chunked bodies) and nothing more; no TLS, no HTTP/2, no compression.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One answer: a status, headers, and a whole ``body`` or streamed ``events``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: When set, the body is sent chunked, one chunk per item, each flushed.
    events: tuple[bytes, ...] | None = None
    #: After the events, send nothing more and keep the connection open until
    #: the client hangs up (a server that stalls part-way), 30 s at most.
    stall: bool = False


def json_reply(status: int, value: object, headers: dict[str, str] | None = None) -> Reply:
    """A JSON body with ``status``."""
    return Reply(
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(value).encode(),
    )


@dataclass
class Received:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: When it arrived by the wall clock (``time.time``), for HTTP dates.
    wall_at: float = 0.0
    #: Just before the reply to it began to be sent (the server's clock): no
    #: client can have seen the reply earlier.
    replied_at: float = 0.0
    #: Set when a stalled reply's client hangs up.
    hung_up: threading.Event = field(default_factory=threading.Event)

    def json(self) -> Any:
        """The body read as JSON."""
        return json.loads(self.body)


@dataclass
class ScriptedServer:
    """The running server: put replies in ``script``; ``received`` lists the requests."""

    port: int = 0
    script: deque[Reply] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    #: Looks at each request first; a reply it returns is sent instead of the script's.
    check: Callable[[Received], Reply | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def add(self, *replies: Reply) -> None:
        """Queue ``replies`` for the next requests, in order."""
        with self.lock:
            self.script.extend(replies)

    def next_reply(self, request: Received) -> Reply:
        """The reply to ``request``: the check's, else the script's next (500 when empty)."""
        if self.check is not None:
            checked = self.check(request)
            if checked is not None:
                return checked
        with self.lock:
            if self.script:
                return self.script.popleft()
        return json_reply(500, {"fake": "no reply scripted for this request"})


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up on a kept-alive connection (as clients do)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Other errors are printed as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def scripted_server(
    check: Callable[[Received], Reply | None] | None = None,
) -> Iterator[ScriptedServer]:
    """Serve on a free loopback port until the block ends; then stop and close it."""
    state = ScriptedServer(check=check)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            arrived, wall = time.monotonic(), time.time()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Received(
                arrived,
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                wall_at=wall,
            )
            with state.lock:
                state.received.append(request)
            reply = state.next_reply(request)
            request.replied_at = time.monotonic()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.events is None:
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            else:
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for event in reply.events:
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                if reply.stall:
                    self._until_hung_up(request)
                    self.close_connection = True
                    return
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _until_hung_up(self, request: Received) -> None:
            # The client closing its end makes the socket readable (EOF).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                try:
                    closed = bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
                except OSError:  # a reset: the client closed with our chunks unread
                    closed = True
                if closed:
                    request.hung_up.set()
                    return

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read ``received`` instead."""

    server = _QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="scripted-http", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
