from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from atom_desktop.api.plain_route import PlainPaths, PlainRoute, plain_routes


class Answer(BaseModel):
    name: str
    count: int


async def answer(request: Request) -> Answer:
    return Answer(name=request.url.path, count=len(request.headers))


def served(*routers: APIRouter, shortcut: bool = False) -> FastAPI:
    app = FastAPI()
    for router in routers:
        app.include_router(router, prefix="/v1")
    if shortcut:
        app.add_middleware(PlainPaths, routes=plain_routes("/v1", routers))
    return app


def request(app: ASGIApp, path: str, method: str = "GET") -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path)

    return asyncio.run(call())


def get(app: ASGIApp, path: str) -> httpx.Response:
    return request(app, path)


class Counted:
    """The app behind the shortcut, counting the requests that reach it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reached: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached.append(f"{scope.get('method')} {scope['path']}")
        await self.app(scope, receive, send)


@pytest.mark.parametrize("shortcut", [False, True], ids=["through FastAPI", "through PlainPaths"])
def test_the_endpoint_runs_per_request_and_its_model_is_sent_as_json(shortcut: bool) -> None:
    router = APIRouter()
    router.add_api_route("/answer", answer, methods=["GET"], route_class_override=PlainRoute)
    app = served(router, shortcut=shortcut)

    response = get(app, "/v1/answer")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    body = response.json()
    assert body["name"] == "/v1/answer"
    assert body["count"] == len(response.request.headers)


def test_the_shortcut_answers_plain_routes_and_passes_everything_else_on() -> None:
    router = APIRouter()
    router.add_api_route("/answer", answer, methods=["GET"], route_class_override=PlainRoute)

    @router.get("/other")
    async def other() -> Answer:
        return Answer(name="other", count=0)

    behind = Counted(served(router))
    app = PlainPaths(behind, routes=plain_routes("/v1", [router]))

    assert get(app, "/v1/answer").json()["name"] == "/v1/answer"
    assert behind.reached == []
    assert get(app, "/v1/other").json()["name"] == "other"
    assert request(app, "/v1/answer", "POST").status_code == 405
    assert get(app, "/v1/answer/").status_code in (307, 404)
    assert behind.reached == ["GET /v1/other", "POST /v1/answer", "GET /v1/answer/"]


def test_the_route_is_documented_with_its_response_model() -> None:
    router = APIRouter()
    router.add_api_route("/answer", answer, methods=["GET"], route_class_override=PlainRoute)
    doc = served(router).openapi()

    operation = doc["paths"]["/v1/answer"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Answer"}
    assert "parameters" not in operation


def test_an_endpoint_that_returns_no_model_is_a_server_error() -> None:
    async def loose(request: Request) -> Answer:
        return {"name": "x", "count": 1}  # type: ignore[return-value]

    router = APIRouter()
    router.add_api_route("/loose", loose, methods=["GET"], route_class_override=PlainRoute)
    with pytest.raises(TypeError, match="loose returned dict"):
        get(served(router), "/v1/loose")


def test_endpoints_that_need_fastapis_work_are_refused_when_declared() -> None:
    async def with_query(request: Request, limit: int = Query(10)) -> Answer:
        return Answer(name="x", count=limit)

    async def without_request() -> Answer:
        return Answer(name="x", count=0)

    def blocking(request: Request) -> Answer:
        return Answer(name="x", count=0)

    async def with_path(request: Request) -> Answer:
        return Answer(name="x", count=0)

    for path, endpoint, reason in (
        ("/x", with_query, "takes only the request"),
        ("/x", without_request, "takes only the request"),
        ("/x/{item}", with_path, "fixed path"),
        ("/x", blocking, "must be async"),
    ):
        router = APIRouter()
        with pytest.raises(TypeError, match=reason):
            router.add_api_route(path, endpoint, methods=["GET"], route_class_override=PlainRoute)
