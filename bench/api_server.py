"""Servers for bench/api.py, each run in its own process.

python -m bench.api_server bare PORT
    a bare Starlette hello-world on the same uvicorn settings as the agent
python -m bench.api_server agent PORT DIR [--no-checks | --headers-only]
    the real agent (store, tokens, API) with data in DIR; --no-checks swaps
    the security middleware for a pass-through, in this process only, to
    measure what the whole layer costs; --headers-only swaps it for a layer
    that adds the same response headers and checks nothing, to tell what the
    headers cost from what the checks cost
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def run_bare(port: int) -> None:
    app = Starlette(routes=[Route("/api/v1/health", hello)])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        access_log=False,
        lifespan="off",
        http="httptools",
        loop="asyncio",
        ws="websockets-sansio",
    )
    uvicorn.Server(config).run()


class PassThrough:
    """Stands in for SecurityMiddleware in the --no-checks run only."""

    def __init__(self, app: Any, **_: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class HeadersOnly(PassThrough):
    """Stands in for SecurityMiddleware in the --headers-only run: its headers, no checks."""

    def __init__(self, app: Any, **_: Any) -> None:
        # Here, not at the top: the bare server must not load the agent's modules.
        from atom_desktop.api.security import API_HEADERS  # noqa: PLC0415

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


def run_agent(port: int, root: Path, layer: str) -> None:
    if layer != "checks":
        import atom_desktop.api.app as app_module  # noqa: PLC0415

        stand_in = PassThrough if layer == "none" else HeadersOnly
        app_module.SecurityMiddleware = stand_in  # type: ignore[attr-defined,assignment]
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.runtime import Runtime  # noqa: PLC0415

    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    settings = Settings(data_dir=root / "data", config_dir=root / "config", port=port)
    Runtime(settings).serve()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("bare", "agent"))
    parser.add_argument("port", type=int)
    parser.add_argument("dir", type=Path, nargs="?")
    layer = parser.add_mutually_exclusive_group()
    layer.add_argument("--no-checks", action="store_const", dest="layer", const="none")
    layer.add_argument("--headers-only", action="store_const", dest="layer", const="headers")
    parser.set_defaults(layer="checks")
    args = parser.parse_args()
    if args.mode == "bare":
        run_bare(args.port)
    else:
        run_agent(args.port, args.dir, args.layer)


if __name__ == "__main__":
    main()
