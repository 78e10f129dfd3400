"""Servers for bench/api.py, each run in its own process.

python -m bench.api_server bare PORT [--tasks-db FILE]
    a bare Starlette hello-world on the same uvicorn settings as the agent;
    with --tasks-db, also the baseline of GET /api/v1/tasks: one query of
    the agent's encrypted database FILE (its raw key in ATOM_ENCRYPTION_KEY)
    and json.dumps of the rows, with the same fields as the agent's answer,
    at /tasks (a plain ``def`` handler, which Starlette runs in a worker
    thread, as the agent runs its store's reads) and /tasks-in-loop (the
    same read on the event loop)
python -m bench.api_server agent PORT DIR [--twin LAYER=PORT ...]
    the real agent (store, tokens, API) with data in DIR; each --twin serves
    the same agent, in the same process, through a second app on PORT whose
    security middleware is LAYER:
      none     none at all, to measure what the whole layer costs
      headers  a layer that adds the same response headers and checks
               nothing, to tell what the headers cost from the checks
      checks   the real one, as the agent's own app has it; costs are
               measured twin against twin, and the agent's own app against
               this twin shows the method's own error
      no-ops   the real one without its rate limiter and request metrics,
               to measure what the two cost together (against ``checks``,
               which has both)
    The agent runs with limits no benchmark reaches (:data:`BENCH_LIMITS`):
    every request still takes from its bucket, none is refused.
    Twins are compared in one process because two processes of the same
    server can differ by 10% for their whole life (memory layout, hash
    seeds), more than the layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any, cast

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


#: The columns of a task, in the order the agent's answer has its fields.
TASK_FIELDS = (
    "id",
    "title",
    "notes",
    "status",
    "priority",
    "due_at",
    "tags",
    "source",
    "external_id",
    "created_at",
    "updated_at",
)
TASKS_SQL = f"SELECT {', '.join(TASK_FIELDS)} FROM tasks ORDER BY id DESC LIMIT ?"


class BaselineTasks:
    """The least a server must do to answer ``GET /tasks?limit=100`` as the agent does.

    One query over the agent's own encrypted file, opened with the same raw
    key and page cache as the agent's store (written out here: the bare
    server loads none of the agent's modules), then ``json.dumps`` of the
    rows with the same fields and values: tags parsed from their stored
    JSON, times (stored as naive UTC text) written as ISO-8601 with ``Z``.
    Each worker thread keeps one connection, as the agent's reader pool does.
    """

    def __init__(self, path: Path, key_hex: str) -> None:
        self.path = path
        self.key_hex = key_hex
        self.local = threading.local()

    def connection(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            import sqlcipher3.dbapi2 as sqlcipher  # noqa: PLC0415

            conn = sqlcipher.connect(f"file:{self.path}?mode=rw", uri=True, check_same_thread=False)
            # As the agent's store opens its readers.
            conn.execute(f"PRAGMA key = \"x'{self.key_hex}'\"")
            conn.execute("PRAGMA cache_size = -65536")
            conn.execute("PRAGMA query_only = ON")
            self.local.conn = conn
        return conn

    def read(self, limit: int) -> bytes:
        rows = self.connection().execute(TASKS_SQL, (limit + 1,)).fetchall()
        items = [
            {
                "id": id_,
                "title": title,
                "notes": notes,
                "status": status,
                "priority": priority,
                "due_at": None if due_at is None else due_at.replace(" ", "T") + "Z",
                "tags": json.loads(tags),
                "source": source,
                "external_id": external_id,
                "created_at": created_at.replace(" ", "T") + "Z",
                "updated_at": updated_at.replace(" ", "T") + "Z",
            }
            for (
                id_,
                title,
                notes,
                status,
                priority,
                due_at,
                tags,
                source,
                external_id,
                created_at,
                updated_at,
            ) in rows[:limit]
        ]
        # Only whole first pages are asked for: the bench makes exactly 100 tasks.
        page = {"items": items, "next_cursor": None}
        return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()

    def in_thread(self, request: Request) -> Response:
        limit = int(request.query_params.get("limit", "50"))
        return Response(self.read(limit), media_type="application/json")

    async def in_loop(self, request: Request) -> Response:
        return self.in_thread(request)


def run_bare(port: int, tasks_db: Path | None = None) -> None:
    # The agent's uvicorn settings; this module loads none of the agent's others.
    from atom_desktop.api.uvicorn_config import uvicorn_config  # noqa: PLC0415

    routes = [Route("/api/v1/health", hello)]
    if tasks_db is not None:
        baseline = BaselineTasks(tasks_db, os.environ["ATOM_ENCRYPTION_KEY"])
        routes += [
            Route("/tasks", baseline.in_thread),
            Route("/tasks-in-loop", baseline.in_loop),
        ]
    app = Starlette(routes=routes)
    config = uvicorn_config(app)
    config.loop = "asyncio"  # as the agent's asyncio.run
    # As atom_desktop.api.server.bind makes it: with IPPROTO_TCP asyncio sets
    # TCP_NODELAY on each connection; without, every answer waits ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    uvicorn.Server(config).run(sockets=[sock])


class HeadersOnly:
    """Stands in for SecurityMiddleware in a ``headers`` twin: its headers, no checks.

    Shaped as the real layer is on a request that passes (a plain function
    returning the app's awaitable, ``send`` wrapped by the layer's own
    :func:`adding_headers`), so the two differ by the checks alone.
    """

    def __init__(self, app: Any, **_: Any) -> None:
        # As in twin_app: the bare server must not load the agent's modules.
        from atom_desktop.api.security import API_HEADERS, adding_headers  # noqa: PLC0415

        self.app = app
        self.headers = API_HEADERS
        self.adding_headers = adding_headers

    def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        # As the real layer adds them to a request without an Origin.
        return self.app(scope, receive, self.adding_headers(send, self.headers))


LAYERS = ("none", "headers", "checks", "no-ops")
#: Rate limits far above any load here: the buckets do their work on every
#: request (what is measured) and never refuse one (wrk counts a 429 as an error).
BENCH_LIMITS: dict[str, Any] = {
    "rate_owner_per_s": 1_000_000,
    "rate_owner_burst": 10_000_000,
    "rate_anonymous_per_s": 1_000_000,
    "rate_anonymous_burst": 10_000_000,
}


def twin_app(agent: Any, layer: str, port: int) -> Any:
    """A second app over ``agent`` for ``port``, its security middleware being ``layer``.

    ``none`` leaves the middleware out, ``headers`` puts :class:`HeadersOnly`
    in its place, ``checks`` keeps it (answering to the twin's own port);
    ``no-ops`` keeps it without its rate limiter and request metrics.
    """
    # Here, not at the top: the bare server must not load the agent's modules.
    from starlette.middleware import Middleware  # noqa: PLC0415

    from atom_desktop.api.app import create_app  # noqa: PLC0415
    from atom_desktop.api.security import (  # noqa: PLC0415
        SecurityConfig,
        SecurityMiddleware,
        allowed_hosts,
    )

    app = create_app(agent)
    stack = []
    for middleware in app.user_middleware:
        if middleware.cls is cast(Any, SecurityMiddleware):
            if layer == "none":
                continue
            kwargs = dict(middleware.kwargs)
            config = kwargs["config"]
            assert isinstance(config, SecurityConfig)
            kwargs["config"] = dataclasses.replace(config, hosts=allowed_hosts(port))
            if layer == "no-ops":
                kwargs["limiter"] = kwargs["metrics"] = None
            cls = HeadersOnly if layer == "headers" else SecurityMiddleware
            middleware = Middleware(cls, **kwargs)  # noqa: PLW2901
        stack.append(middleware)
    # The middleware stack is built at the first request, from this list.
    app.user_middleware = stack
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
        try:
            for twin, _ in running:
                twin.request_exit()
            await asyncio.gather(*(task for _, task in running))
        finally:
            await stop(self)

    service.async_start = async_start  # type: ignore[method-assign]
    service.async_stop = async_stop  # type: ignore[method-assign]


def run_agent(port: int, root: Path, twins: list[tuple[str, int]]) -> None:
    serve_twins(twins)
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from atom_desktop.runtime import Runtime  # noqa: PLC0415

    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    settings = Settings(
        data_dir=root / "data", config_dir=root / "config", port=port, **BENCH_LIMITS
    )
    Runtime(settings).serve()


def twin(text: str) -> tuple[str, int]:
    """``LAYER=PORT`` from the command line."""
    layer, _, port = text.partition("=")
    if layer not in LAYERS or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected LAYER=PORT, LAYER one of {list(LAYERS)}")
    return layer, int(port)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("bare", "agent"))
    parser.add_argument("port", type=int)
    parser.add_argument("dir", type=Path, nargs="?")
    parser.add_argument("--twin", type=twin, action="append", default=[])
    parser.add_argument("--tasks-db", type=Path, default=None)
    args = parser.parse_args()
    if args.mode == "bare":
        run_bare(args.port, args.tasks_db)
    else:
        run_agent(args.port, args.dir, args.twin)


if __name__ == "__main__":
    main()
