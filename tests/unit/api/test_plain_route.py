from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel

from atom_desktop.api.plain_route import PlainRoute


class Answer(BaseModel):
    name: str
    count: int


async def answer(request: Request) -> Answer:
    return Answer(name=request.url.path, count=len(request.headers))


def served(*routers: APIRouter) -> FastAPI:
    app = FastAPI()
    for router in routers:
        app.include_router(router, prefix="/v1")
    return app


def get(app: FastAPI, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_the_endpoint_runs_per_request_and_its_model_is_sent_as_json() -> None:
    router = APIRouter()
    router.add_api_route("/answer", answer, methods=["GET"], route_class_override=PlainRoute)
    app = served(router)

    response = get(app, "/v1/answer")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["name"] == "/v1/answer"
    assert body["count"] == len(response.request.headers)


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

    for endpoint, reason in (
        (with_query, "takes only the request"),
        (without_request, "takes only the request"),
        (blocking, "must be async"),
    ):
        router = APIRouter()
        with pytest.raises(TypeError, match=reason):
            router.add_api_route("/x", endpoint, methods=["GET"], route_class_override=PlainRoute)
