"""A real agent (store, tokens, uvicorn) on a free loopback port, per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import cast

import httpx
import keyring.backends.fail
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from atom_desktop.agent_thread import AgentThread
from atom_desktop.api import deps
from atom_desktop.api.context import AgentContext
from atom_desktop.api.plain_route import PlainEndpoint, PlainPaths, PlainTarget
from atom_desktop.config.settings import Settings
from atom_desktop.runtime import Runtime


@dataclass
class HandlerCounter:
    """Counts how often a route handler resolved its dependencies (i.e. ran)."""

    calls: int = 0
    clients: list[tuple[str, int] | None] = field(default_factory=list)


@dataclass
class LiveAgent:
    """A running agent and what a client needs to talk to it."""

    runtime: Runtime
    host: AgentThread  # the thread the agent runs on, as in the desktop app
    base_url: str
    owner_token: str
    port: int
    handlers: HandlerCounter

    def client(self, token: str | None = None, **kwargs: object) -> httpx.Client:
        """An HTTP client with the owner token (or ``token``) set."""
        headers = {"Authorization": f"Bearer {token or self.owner_token}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]

    def make_token(self, *scopes: str, name: str | None = None) -> str:
        """A named token with ``scopes``, made through the API."""
        with self.client() as client:
            response = client.post(
                "/api/v1/tokens", json={"name": name or "-".join(scopes), "scopes": list(scopes)}
            )
            response.raise_for_status()
            return str(response.json()["token"])


def start_agent(
    settings: Settings, **runtime_args: object
) -> tuple[Runtime, AgentThread, HandlerCounter]:
    """Start a runtime in its own thread and count handler runs."""
    runtime = Runtime(settings, **runtime_args)  # type: ignore[arg-type]
    host = AgentThread(lambda: runtime)
    host.start_and_wait()
    counter = HandlerCounter()
    app = runtime.api.app
    assert app is not None

    async def counting_agent(request: Request) -> AgentContext:
        counter.calls += 1
        counter.clients.append(
            (request.client.host, request.client.port) if request.client else None
        )
        return runtime

    app.dependency_overrides[deps._agent] = counting_agent
    _count_plain_routes(app, counter)
    return runtime, host, counter


def _count_plain_routes(app: FastAPI, counter: HandlerCounter) -> None:
    """Count the routes PlainPaths answers (they resolve no dependencies) as well."""
    layers = [m for m in app.user_middleware if m.cls is cast(object, PlainPaths)]
    assert len(layers) == 1, "the app has no PlainPaths layer"
    routes = cast(dict[tuple[str, str], PlainTarget], layers[0].kwargs["routes"])
    assert routes, "no plain routes to count"

    def counted(endpoint: PlainEndpoint) -> PlainEndpoint:
        async def call(request: Request) -> BaseModel:
            counter.calls += 1
            counter.clients.append(
                (request.client.host, request.client.port) if request.client else None
            )
            return await endpoint(request)

        call.__name__ = endpoint.__name__
        return call

    for key, target in routes.items():
        routes[key] = replace(target, endpoint=counted(target.endpoint))


@contextmanager
def live_agent(settings: Settings) -> Iterator[LiveAgent]:
    """Start an agent (no OS keyring: owner token in a 0600 file) and stop it after."""
    runtime, host, counter = start_agent(
        settings, keyring_backend=keyring.backends.fail.Keyring(), heartbeat_s=0.2
    )
    try:
        owner = runtime.token_service.owner
        assert owner is not None
        port = runtime.api_port
        yield LiveAgent(runtime, host, f"http://127.0.0.1:{port}", owner.secret, port, counter)
    finally:
        host.stop()


@pytest.fixture
def agent(settings: Settings) -> Iterator[LiveAgent]:
    with live_agent(settings) as live:
        yield live
