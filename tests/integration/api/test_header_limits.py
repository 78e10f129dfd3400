"""A request's head is bounded before any check runs: raw sockets to a real agent."""

from __future__ import annotations

import base64
import json
import os
import select
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from atom_desktop.api.http_protocol import HeadLimits
from atom_desktop.api.security import API_HEADERS
from tests.integration.api.conftest import LiveAgent
from tests.support.agent_process import AgentProcess, agent_env

LIMITS = HeadLimits()
HEALTH = "/api/v1/health"
MiB = 1024 * 1024


@dataclass
class Reply:
    """One HTTP answer as read off the socket."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def error_code(self) -> str:
        return str(json.loads(self.body)["error"]["code"])

    def message(self) -> str:
        return str(json.loads(self.body)["error"]["message"])


class Replies:
    """Reads answers (each with a Content-Length) off a socket, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _more(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            # The agent closed with our bytes unread: what it sent came first.
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def next(self) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            assert self._more(), f"the connection ended before an answer: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.split(b"\r\n")
        headers = dict(line.lower().split(b": ", 1) for line in lines)
        length = int(headers[b"content-length"])
        while len(self.buffer) < length:
            assert self._more(), "the connection ended inside an answer"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(int(status_line.split()[1]), headers, body)

    def ended(self) -> bool:
        """Whether the agent closed the connection (with nothing more to read)."""
        return not self.buffer and not self._more()


def request(port: int, *headers: tuple[str, str], path: str = HEALTH) -> bytes:
    """A GET with a right Host and ``headers``."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def at_the_limits(port: int, *, extra_bytes: int = 0, extra_lines: int = 0) -> bytes:
    """A GET of exactly 100 header lines and 64 KiB of target, names and values (plus extra)."""
    host = ("Host", f"127.0.0.1:{port}")
    fillers = [(f"X-Fill-{i:02d}", "v") for i in range(LIMITS.max_lines - 2 + extra_lines)]
    used = len(HEALTH) + sum(len(n) + len(v) for n, v in [host, *fillers]) + len("X-Pad")
    pad = ("X-Pad", "p" * (LIMITS.max_bytes - used + extra_bytes))
    lines = [f"GET {HEALTH} HTTP/1.1", *(f"{n}: {v}" for n, v in [host, *fillers, pad])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_until_refused(sock: socket.socket, data: bytes, piece: int = 64 * 1024) -> int:
    """Send ``data`` in pieces until done or the agent closed; the bytes it took."""
    sent = 0
    view = memoryview(data)
    try:
        while sent < len(data):
            sent += sock.send(view[sent : sent + piece])
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def connect(agent: LiveAgent | int) -> socket.socket:
    port = agent if isinstance(agent, int) else agent.port
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def assert_refused(reply: Reply, what: str) -> None:
    assert reply.status == 431, reply
    assert reply.error_code() == "headers_too_large"
    assert what in reply.message()
    assert reply.headers[b"connection"] == b"close"
    assert reply.headers[b"content-type"] == b"application/json"
    for name, value in API_HEADERS:
        assert reply.headers[name] == value


def test_a_header_of_1_mib_is_refused_and_the_connection_closed(agent: LiveAgent) -> None:
    with connect(agent) as sock:
        send_until_refused(sock, request(agent.port, ("X-Big", "a" * MiB)))
        replies = Replies(sock)
        assert_refused(replies.next(), "larger than 64 KiB")
        assert replies.ended()
    assert agent.handlers.calls == 0


def test_20000_headers_are_refused(agent: LiveAgent) -> None:
    headers = [(f"X-{i}", "v") for i in range(20_000)]
    with connect(agent) as sock:
        send_until_refused(sock, request(agent.port, *headers))
        replies = Replies(sock)
        assert_refused(replies.next(), "more than 100 header lines")
        assert replies.ended()
    assert agent.handlers.calls == 0


@pytest.mark.parametrize("piece", [64 * 1024, 1000])
def test_a_request_at_the_limits_is_answered(agent: LiveAgent, piece: int) -> None:
    data = at_the_limits(agent.port)
    assert len(data) > LIMITS.max_bytes  # it takes the agent more than one read
    with connect(agent) as sock:
        assert send_until_refused(sock, data, piece) == len(data)
        assert Replies(sock).next().status == 200
    assert agent.handlers.calls == 1


@pytest.mark.parametrize(
    ("extra", "what"),
    [({"extra_bytes": 1}, "larger than 64 KiB"), ({"extra_lines": 1}, "more than 100 header")],
)
def test_one_byte_or_one_line_past_the_limits_is_refused(
    agent: LiveAgent, extra: dict[str, int], what: str
) -> None:
    with connect(agent) as sock:
        send_until_refused(sock, at_the_limits(agent.port, **extra))
        replies = Replies(sock)
        assert_refused(replies.next(), what)
        assert replies.ended()
    assert agent.handlers.calls == 0


def test_keep_alive_answers_a_request_then_refuses_the_next(agent: LiveAgent) -> None:
    with connect(agent) as sock:
        replies = Replies(sock)
        sock.sendall(request(agent.port))
        assert replies.next().status == 200
        send_until_refused(sock, request(agent.port, ("X-Big", "a" * 200_000)))
        assert_refused(replies.next(), "larger than 64 KiB")
        assert replies.ended()
    assert agent.handlers.calls == 1


def test_pipelined_requests_are_answered_in_order_before_the_refusal(agent: LiveAgent) -> None:
    normal = request(agent.port)
    # Refused while still arriving (the line never ends in what is sent) and
    # refused once ended: both wait for the answers before them.
    arriving = request(agent.port, ("X-Big", "a" * 300_000))[:-4]
    ended = request(agent.port, ("X-Big", "a" * 70_000))
    for refused in (arriving, ended):
        with connect(agent) as sock:
            send_until_refused(sock, normal + normal + refused)
            replies = Replies(sock)
            assert [replies.next().status for _ in range(2)] == [200, 200]
            assert_refused(replies.next(), "larger than 64 KiB")
            assert replies.ended()
    assert agent.handlers.calls == 4


def test_the_limits_count_per_request_on_one_connection(agent: LiveAgent) -> None:
    # Three heads near the limit, 190 KiB in all, on one connection.
    data = at_the_limits(agent.port) * 3
    with connect(agent) as sock:
        sock.sendall(data)
        replies = Replies(sock)
        assert [replies.next().status for _ in range(3)] == [200, 200, 200]
    assert agent.handlers.calls == 3


def handshake(agent: LiveAgent, *headers: tuple[str, str]) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return request(
        agent.port,
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", f"bearer, {agent.owner_token}"),
        *headers,
        path="/api/v1/events/ws",
    )


def test_a_websocket_handshake_with_a_huge_header_is_refused_without_upgrade(
    agent: LiveAgent,
) -> None:
    # The same handshake without the header is taken: the refusal is the header's.
    with connect(agent) as sock:
        sock.sendall(handshake(agent))
        assert sock.recv(65536).startswith(b"HTTP/1.1 101 ")
    for huge in (("X-Big", "a" * MiB), ("X-Big", "a" * 70_000)):
        with connect(agent) as sock:
            send_until_refused(sock, handshake(agent, huge))
            replies = Replies(sock)
            reply = replies.next()
            assert_refused(reply, "larger than 64 KiB")
            assert replies.ended()


def trickle(sock: socket.socket, start: bytes, piece: bytes, cap: int) -> int:
    """Send ``start``, then ``piece`` after ``piece``, until the agent answers or
    closes, or ``cap`` bytes went; the bytes sent."""
    sock.sendall(start)
    sent = len(start)
    while sent < cap:
        if select.select([sock], [], [], 0)[0]:
            break  # the answer is there
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


@pytest.mark.parametrize(
    ("piece", "what"),
    [(b"a" * 512, "larger than 64 KiB"), (b"X-Line: v\r\n", "more than 100 header lines")],
)
def test_a_trickled_head_is_refused_once_too_large(
    agent: LiveAgent, piece: bytes, what: str
) -> None:
    """A slow sender of one endless header, or of endless short ones, is
    refused at the limits, not when it stops."""
    start = f"GET {HEALTH} HTTP/1.1\r\nHost: 127.0.0.1:{agent.port}\r\nX-Slow: ".encode()
    cap = 64 * MiB
    with connect(agent) as sock:
        sent = trickle(sock, start, piece, cap)
        assert sent < cap, "the agent took 64 MiB of one head"
        replies = Replies(sock)
        assert_refused(replies.next(), what)
        assert replies.ended()
    assert agent.handlers.calls == 0


def _memory_high_water(pid: int) -> int:
    """The process's peak resident memory (Linux), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.e2e
def test_a_96_mib_header_is_cut_off_early_and_costs_the_agent_no_memory(
    tmp_path: Path,
) -> None:
    env = agent_env(
        dict(os.environ),
        tmp_path / "data",
        tmp_path / "config",
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        port = int(json.loads((tmp_path / "data" / "agent.lock").read_text())["port"])
        process = psutil.Process(agent.proc.pid)
        with connect(port) as sock:
            sock.sendall(request(port))
            assert Replies(sock).next().status == 200
        rss, peak = process.memory_info().rss, _memory_high_water(agent.proc.pid)

        head = request(port)[:-2] + b"X-Big: "
        total = 96 * MiB
        block = b"a" * MiB  # sent again and again: the test holds 1 MiB, not 96
        with connect(port) as sock:
            sock.sendall(head)
            sent = len(head)
            try:
                while sent < total:
                    sent += sock.send(block)
            except (BrokenPipeError, ConnectionResetError):
                pass
            # What the agent read is far less: the rest filled the two
            # sockets' buffers before the agent's close came back.
            assert sent < 32 * MiB, f"the agent took {sent} bytes of one header"
            replies = Replies(sock)
            assert_refused(replies.next(), "larger than 64 KiB")
            assert replies.ended()

        with connect(port) as sock:
            sock.sendall(request(port))
            assert Replies(sock).next().status == 200
        # Unbounded, this cost 176 MiB; bounded, the agent holds one read or two.
        assert _memory_high_water(agent.proc.pid) - peak < 8 * MiB
        assert process.memory_info().rss - rss < 8 * MiB
        assert agent.stop() == 0
        assert "Refused a request from 127.0.0.1" in agent.output
    finally:
        agent.kill()
