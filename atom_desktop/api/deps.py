"""Dependencies routes declare, named once as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIWebSocketRoute
from starlette.types import Scope

from atom_desktop.api.auth import Principal
from atom_desktop.api.context import AgentContext


def agent_of(request: Request) -> AgentContext:
    """The agent the app serves (routes that take no dependencies read it here)."""
    return cast(AgentContext, request.app.state.agent)


# Async on purpose: FastAPI runs a sync dependency in a worker thread, a
# thread hop per request for a plain attribute read.
async def _agent(request: Request) -> AgentContext:
    return agent_of(request)


async def _principal(request: Request) -> Principal:
    # Set by SecurityMiddleware before any handler runs.
    return cast(Principal, request.scope["state"]["principal"])


def principal_of(scope: Scope) -> Principal | None:
    """The verified token holder of a request or WebSocket (None on a public route)."""
    return cast(Principal | None, scope.get("state", {}).get("principal"))


AgentDep = Annotated[AgentContext, Depends(_agent)]
PrincipalDep = Annotated[Principal, Depends(_principal)]


def scope(name: str) -> dict[str, object]:
    """``openapi_extra`` naming the token scope a route needs (read by the middleware)."""
    return {"x-atom-scope": name, "security": [] if name == "public" else [{"bearer": []}]}


def websocket_scope(router: APIRouter, name: str) -> None:
    """Name the scope of the router's WebSocket routes (which have no ``openapi_extra``)."""
    for route in router.routes:
        if isinstance(route, APIWebSocketRoute):
            route.atom_scope = name  # type: ignore[attr-defined]
