"""A loopback HTTP server for update tests: manifests and builds from a dict, with faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    """One file the server serves; ``cut_after`` sends only that many bytes, then closes."""

    body: bytes
    cut_after: int | None = None


@dataclass
class UpdateServer:
    """The running server: put files in ``files`` by path; ``url(path)`` addresses them."""

    port: int
    files: dict[str, Served] = field(default_factory=dict)
    #: Paths answered with a 302 to the address given.
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """The address of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def update_server() -> Iterator[UpdateServer]:
    """Serve files on a free loopback port until the block ends."""
    state = UpdateServer(port=0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.requests.append(self.path)
            location = state.redirects.get(self.path)
            if location is not None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            served = state.files.get(self.path)
            if served is None:
                self.send_error(404)
                return
            self.send_response(200)
            # Always the full length: a cut body is then a truncated download.
            self.send_header("Content-Length", str(len(served.body)))
            self.send_header("Content-Type", "application/octet-stream")
            if served.cut_after is not None:
                self.send_header("Connection", "close")
            self.end_headers()
            body = served.body if served.cut_after is None else served.body[: served.cut_after]
            self.wfile.write(body)
            if served.cut_after is not None:
                self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``requests`` instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="update-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
