"""``PlainRoute``: a FastAPI route without FastAPI's per-request machinery.

For endpoints that read nothing from the request but the request itself and
return a pydantic model (``/health``, which monitors and the web app poll).
FastAPI resolves dependencies and parameters and validates the response on
every request, about 70 us here, which is more than the rest of such a
request costs. The route is still declared, documented and guarded like any
other; only the call skips that work, so the endpoint must not need it,
which the constructor checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response


class PlainRoute(APIRoute):
    """Calls ``async def endpoint(request) -> Model`` and sends the model as JSON."""

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
        if extra or list(inspect.signature(endpoint).parameters) != [dependant.request_param_name]:
            raise TypeError(f"{endpoint.__name__}: a plain route's endpoint takes only the request")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler FastAPI wraps: call the endpoint, serialise its model."""
        endpoint = self.endpoint
        status_code = self.status_code or 200

        async def handler(request: Request) -> Response:
            result = await endpoint(request)
            if not isinstance(result, BaseModel):
                raise TypeError(f"{endpoint.__name__} returned {type(result).__name__}")
            return Response(
                result.__pydantic_serializer__.to_json(result),
                status_code=status_code,
                media_type="application/json",
            )

        return handler
