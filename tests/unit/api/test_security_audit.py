"""Every mutating request is audited, including one whose handler fails."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from atom_desktop.api.auth import Principal
from atom_desktop.api.security import (
    PUBLIC,
    RouteTable,
    SecurityConfig,
    SecurityMiddleware,
    allowed_hosts,
)

PORT = 8084


class Recorder:
    """The audit hook: what it was asked to record."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Scope, principal: Principal | None, status: int) -> None:
        self.entries.append((scope["method"], scope["path"], status))


def layer(app: object, audit: Recorder) -> SecurityMiddleware:
    routes = RouteTable()
    # Public, so no token store is needed: auditing does not depend on a token.
    routes.add("/api/v1/thing", ("GET", "POST"), PUBLIC)
    config = SecurityConfig(hosts=allowed_hosts(PORT), origins=frozenset(), max_body=1024)
    return SecurityMiddleware(
        app,  # type: ignore[arg-type]
        config=config,
        authority=None,  # type: ignore[arg-type]
        routes=routes,
        audit=audit,
    )


def request(method: str) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": "/api/v1/thing",
        "headers": [(b"host", f"127.0.0.1:{PORT}".encode())],
        "query_string": b"",
    }


async def no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def answer_201(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def fail(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("handler failed")


def run(middleware: SecurityMiddleware, method: str) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await middleware(request(method), no_body, send)

    asyncio.run(main())
    return sent


def test_a_mutation_is_audited_with_its_status() -> None:
    audit = Recorder()
    sent = run(layer(answer_201, audit), "POST")
    assert sent[0]["status"] == 201
    assert audit.entries == [("POST", "/api/v1/thing", 201)]


def test_a_read_is_not_audited() -> None:
    audit = Recorder()
    run(layer(answer_201, audit), "GET")
    assert audit.entries == []


def test_a_mutation_whose_handler_fails_is_audited_as_an_error() -> None:
    audit = Recorder()
    with pytest.raises(RuntimeError, match="handler failed"):
        run(layer(fail, audit), "POST")
    assert audit.entries == [("POST", "/api/v1/thing", 500)]
