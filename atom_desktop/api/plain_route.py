"""Plain routes: declared and documented through FastAPI, served without it.

For endpoints that read nothing from the request but the request itself and
return a pydantic model (``/health``, which monitors, the web app and the CLI
poll). FastAPI's per-request work (routing through the included routers,
dependency and parameter resolution, response validation, its exception and
exit-stack layers) costs about 60 us here, more than the rest of such a
request. :class:`PlainRoute` declares such an endpoint (it is in the OpenAPI
document with its response model, and FastAPI can still serve it), and
:class:`PlainPaths`, a layer inside the security middleware, answers its
requests directly. Every request still passes every security check first.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

PlainEndpoint = Callable[[Request], Awaitable[BaseModel]]


class PlainRoute(APIRoute):
    """A route whose endpoint is ``async def endpoint(request) -> Model``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{endpoint.__name__}: a plain route's endpoint must be async")
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        extra = (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.dependencies
        )
        named = list(inspect.signature(endpoint).parameters)
        if extra or "{" in path or named != [dependant.request_param_name]:
            raise TypeError(
                f"{endpoint.__name__}: a plain route has a fixed path and its endpoint "
                "takes only the request"
            )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler FastAPI uses if a request reaches it through the router."""
        endpoint = self.endpoint
        status_code = self.status_code or 200

        async def handler(request: Request) -> Response:
            body = model_json(endpoint.__name__, await endpoint(request))
            return Response(body, status_code=status_code, media_type="application/json")

        return handler


def model_json(name: str, result: object) -> bytes:
    """``result`` as JSON, which must be the pydantic model the endpoint promised."""
    if not isinstance(result, BaseModel):
        raise TypeError(f"{name} returned {type(result).__name__}")
    return result.__pydantic_serializer__.to_json(result)


@dataclass(frozen=True, slots=True)
class PlainTarget:
    """What :class:`PlainPaths` calls for one method and path."""

    endpoint: PlainEndpoint
    status_code: int


def plain_routes(prefix: str, routers: Iterable[APIRouter]) -> dict[tuple[str, str], PlainTarget]:
    """Every plain route of ``routers`` included under ``prefix``, by (method, path)."""
    found: dict[tuple[str, str], PlainTarget] = {}
    for router in routers:
        for route in router.routes:
            if isinstance(route, PlainRoute):
                target = PlainTarget(route.endpoint, route.status_code or 200)
                for method in route.methods or ():
                    found[(method, prefix + route.path)] = target
    return found


class PlainPaths:
    """ASGI layer that answers plain routes itself and passes on everything else."""

    def __init__(self, app: ASGIApp, *, routes: dict[tuple[str, str], PlainTarget]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        target = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if target is None:
            await self.app(scope, receive, send)
            return
        endpoint = target.endpoint
        body = model_json(endpoint.__name__, await endpoint(Request(scope, receive, send)))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send(
            {"type": "http.response.start", "status": target.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})
