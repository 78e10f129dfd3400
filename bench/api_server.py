"""Servers for bench/api.py, each run in its own process.

python -m bench.api_server bare PORT
    a bare Starlette hello-world on the same uvicorn settings as the agent
python -m bench.api_server agent PORT DIR [--twin LAYER=PORT ...]
    the real agent (store, tokens, API) with data in DIR; each --twin serves
    the same agent, in the same process, through a second app on PORT whose
    security middleware is LAYER:
      none     a pass-through, to measure what the whole layer costs
      headers  a layer that adds the same response headers and checks
               nothing, to tell what the headers cost from the checks
      checks   the real one again, a control: any difference it shows is
               the method's own error
    Twins are compared in one process because two processes of the same
    server can differ by 10% for their whole life (memory layout, hash
    seeds), more than the layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import socket
from pathlib import Path
from typing import Any
from unittest.mock import patch

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def run_bare(port: int) -> None:
    # The agent's uvicorn settings; this module loads none of the agent's others.
    from atom_desktop.api.uvicorn_config import uvicorn_config  # noqa: PLC0415

    app = Starlette(routes=[Route("/api/v1/health", hello)])
    config = uvicorn_config(app)
    config.loop = "asyncio"  # as the agent's asyncio.run
    sock = socket.create_server(("127.0.0.1", port))
    uvicorn.Server(config).run(sockets=[sock])


class PassThrough:
    """Stands in for SecurityMiddleware in a ``none`` twin."""

    def __init__(self, app: Any, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class HeadersOnly(PassThrough):
    """Stands in for SecurityMiddleware in a ``headers`` twin: its headers, no checks."""

    def __init__(self, app: Any, **_: Any) -> None:
        from atom_desktop.api.security import API_HEADERS  # noqa: PLC0415 - as in twin_app

        super().__init__(app)
        self.headers = API_HEADERS

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.headers

        async def send_with_headers(message: Any) -> None:
            # As the real layer adds them to a request without an Origin.
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


STAND_INS: dict[str, type[PassThrough] | None] = {
    "none": PassThrough,
    "headers": HeadersOnly,
    "checks": None,
}


def twin_app(agent: Any, layer: str, port: int) -> Any:
    """A second app over ``agent`` for ``port``, its security middleware being ``layer``."""
    # Here, not at the top: the bare server must not load the agent's modules.
    import atom_desktop.api.app as app_module  # noqa: PLC0415
    from atom_desktop.api.security import SecurityConfig, allowed_hosts  # noqa: PLC0415

    stand_in = STAND_INS[layer]
    swap = (
        patch.object(app_module, "SecurityMiddleware", stand_in)
        if stand_in is not None
        else contextlib.nullcontext()
    )
    with swap:
        app = app_module.create_app(agent)
    for middleware in app.user_middleware:
        config = middleware.kwargs.get("config")
        if isinstance(config, SecurityConfig):  # the twin answers to its own port's Host
            middleware.kwargs["config"] = dataclasses.replace(config, hosts=allowed_hosts(port))
    return app


def serve_twins(twins: list[tuple[str, int]]) -> None:
    """Make the agent's API service also serve ``twins`` while it runs."""
    from atom_desktop.api import server as server_module  # noqa: PLC0415
    from atom_desktop.api.uvicorn_config import uvicorn_config  # noqa: PLC0415

    service = server_module.ApiService
    start, stop = service.async_start, service.async_stop
    running: list[tuple[Any, asyncio.Task[None]]] = []

    async def async_start(self: Any) -> None:
        await start(self)
        for layer, port in twins:
            app = twin_app(self._agent, layer, port)
            twin = server_module.AgentServer(uvicorn_config(app))
            sock = server_module.bind("127.0.0.1", port)
            running.append((twin, asyncio.create_task(twin.serve(sockets=[sock]))))

    async def async_stop(self: Any) -> None:
        for twin, _ in running:
            twin.request_exit()
        await asyncio.gather(*(task for _, task in running))
        await stop(self)

    service.async_start = async_start  # type: ignore[method-assign]
    service.async_stop = async_stop  # type: ignore[method-assign]


def run_agent(port: int, root: Path, twins: list[tuple[str, int]]) -> None:
    serve_twins(twins)
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.runtime import Runtime  # noqa: PLC0415

    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    settings = Settings(data_dir=root / "data", config_dir=root / "config", port=port)
    Runtime(settings).serve()


def twin(text: str) -> tuple[str, int]:
    """``LAYER=PORT`` from the command line."""
    layer, _, port = text.partition("=")
    if layer not in STAND_INS or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected LAYER=PORT, LAYER one of {list(STAND_INS)}")
    return layer, int(port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("bare", "agent"))
    parser.add_argument("port", type=int)
    parser.add_argument("dir", type=Path, nargs="?")
    parser.add_argument("--twin", type=twin, action="append", default=[])
    args = parser.parse_args()
    if args.mode == "bare":
        run_bare(args.port)
    else:
        run_agent(args.port, args.dir, args.twin)


if __name__ == "__main__":
    main()
