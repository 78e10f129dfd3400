"""How long streams live: they end when their client goes, or when their token is revoked."""

from __future__ import annotations

import gc
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from tests.integration.api.conftest import LiveAgent
from tests.integration.api.test_runs import py, start, wait_done


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def asyncio_warnings() -> Iterator[list[str]]:
    """What asyncio warns about while the test runs (tasks destroyed, writes to closed sockets)."""
    handler = _Records()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _open_streams(agent: LiveAgent) -> int:
    app = agent.runtime.api.app
    assert app is not None
    return int(app.state.streams.count())


def _wait_until(condition: Any, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def _sse_request(agent: LiveAgent, path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{agent.port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()


def test_a_client_that_goes_away_ends_its_event_stream_at_once(
    agent: LiveAgent, asyncio_warnings: list[str]
) -> None:
    with agent.client() as client:
        for i in range(300):  # a backlog far longer than what each client reads
            client.post("/api/v1/tasks", json={"title": f"task {i}"}).raise_for_status()
    request = _sse_request(agent, "/api/v1/events?since=0", agent.owner_token)
    for _ in range(100):
        # What `curl -N .../events?since=0 | head -c 200` does.
        with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as sock:
            sock.sendall(request)
            received = b""
            while len(received) < 200:
                piece = sock.recv(200 - len(received))
                assert piece, "the stream ended before it sent anything"
                received += piece
        assert received.startswith(b"HTTP/1.1 200")
    assert _wait_until(lambda: _open_streams(agent) == 0), "streams still open after their clients"
    gc.collect()  # a task dropped while pending is reported when it is collected
    # The agent still answers, and nothing was written into a closed socket.
    with agent.client() as client:
        assert client.get("/api/v1/health").status_code == 200
    assert [m for m in asyncio_warnings if "destroyed" in m or "socket.send" in m] == []


def _read_sse_until_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it ends the response (chunked) or closes."""
    sock.settimeout(15)
    received = b""
    while not received.endswith(b"0\r\n\r\n"):
        piece = sock.recv(65536)
        if not piece:
            break
        received += piece
    return received


def _ws(agent: LiveAgent, path: str, token: str) -> ClientConnection:
    return ws_connect(
        f"ws://127.0.0.1:{agent.port}{path}",
        subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
        open_timeout=10,
    )


def _close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=15)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def _audit(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit", params={"limit": 500})
    response.raise_for_status()
    return list(response.json()["items"])


def test_revoking_a_token_ends_every_stream_and_socket_it_opened(agent: LiveAgent) -> None:
    reader = agent.make_token("read", name="reader")
    runner = agent.make_token("run", name="runner")
    keeper = agent.make_token("read", name="keeper")
    with agent.client() as client:
        tokens = {t["name"]: t["id"] for t in client.get("/api/v1/tokens").json()}
        sleeper = start(client, argv=["sleep", "60"])["id"]
        # Input goes to a running run; wait for it to leave the queue.
        assert _wait_until(
            lambda: client.get(f"/api/v1/runs/{sleeper}").json()["status"] == "running"
        )

        events = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
        output = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
        kept = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
        events.sendall(_sse_request(agent, "/api/v1/events", reader))
        output.sendall(_sse_request(agent, f"/api/v1/runs/{sleeper}/stream", reader))
        kept.sendall(_sse_request(agent, "/api/v1/events", keeper))
        events_ws = _ws(agent, "/api/v1/events/ws", reader)
        run_ws = _ws(agent, f"/api/v1/runs/{sleeper}/ws", runner)
        try:
            run_ws.send(b"typed before\n")
            assert _wait_until(lambda: _open_streams(agent) == 5)

            for name in ("reader", "runner"):
                client.delete(f"/api/v1/tokens/{tokens[name]}").raise_for_status()

            for sock in (events, output):
                ended = _read_sse_until_end(sock)
                assert b"event: revoked" in ended, ended[-300:]
                assert ended.endswith(b"0\r\n\r\n"), "the response was not ended"
            assert _close_code(events_ws) == 1008
            assert _close_code(run_ws) == 1008
            # A token that was not revoked keeps its stream.
            assert _wait_until(lambda: _open_streams(agent) == 1)
            with pytest.raises(ConnectionClosed):
                run_ws.send(json.dumps({"type": "cancel"}))
        finally:
            for sock in (events, output, kept):
                sock.close()
            events_ws.close()
            run_ws.close()

        assert client.get(f"/api/v1/runs/{sleeper}").json()["status"] == "running"
        entries = _audit(client)
        typed = [e for e in entries if e["action"].endswith("/input (WebSocket)")]
        assert [(e["token_name"], e["status"], e["target"]) for e in typed] == [
            ("runner", 204, sleeper)
        ]
        client.post(f"/api/v1/runs/{sleeper}/cancel").raise_for_status()
        wait_done(client, sleeper)


def test_socket_actions_are_audited_as_their_http_twins(agent: LiveAgent) -> None:
    runner = agent.make_token("run", name="socket-user")
    with agent.client() as client:
        run_id = start(client, argv=py("import sys, time\nsys.stdin.read()\ntime.sleep(60)"))["id"]
        assert _wait_until(
            lambda: client.get(f"/api/v1/runs/{run_id}").json()["status"] == "running"
        )
        with _ws(agent, f"/api/v1/runs/{run_id}/ws", runner) as ws:
            ws.send(json.dumps({"type": "stdin", "text": "hello"}))
            ws.send(json.dumps({"type": "close_stdin"}))
            ws.send(json.dumps({"type": "nonsense"}))
            ws.send(json.dumps({"type": "cancel"}))
            while True:
                frame = ws.recv(timeout=30)
                if isinstance(frame, str) and json.loads(frame)["type"] == "exit":
                    break
        assert wait_done(client, run_id)["status"] == "cancelled"
        entries = [e for e in _audit(client) if e["token_name"] == "socket-user"]
        actions = [(e["action"], e["status"], e["result"]) for e in reversed(entries)]
        twin = "/api/v1/runs/{run_id}"
        assert actions == [
            (f"POST {twin}/input (WebSocket)", 204, "ok"),
            (f"POST {twin}/input (WebSocket)", 204, "ok"),
            (f"WS {twin}/ws", 400, "error"),
            (f"POST {twin}/cancel (WebSocket)", 202, "ok"),
        ]
        assert {e["target"] for e in entries} == {run_id}
