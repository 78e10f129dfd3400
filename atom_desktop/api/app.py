"""``create_app(agent)``: the FastAPI application of the local API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import Scope

from atom_desktop import __version__
from atom_desktop.api.auth import Principal
from atom_desktop.api.context import AgentContext
from atom_desktop.api.errors import install_error_handlers
from atom_desktop.api.failures import UnexpectedErrors
from atom_desktop.api.metrics_collector import agent_registry
from atom_desktop.api.open_streams import OpenStreams
from atom_desktop.api.plain_route import PlainPaths, plain_routes
from atom_desktop.api.rate_limit import RATE_LIMITED_RESPONSE, Limited, Limits, RateLimiter
from atom_desktop.api.request_metrics import RequestStats
from atom_desktop.api.routes import (
    alerts,
    app_window,
    approvals,
    assistant,
    audit,
    automations,
    diagnostics,
    events,
    health,
    integrations,
    metrics,
    oauth_callback,
    runs,
    sync,
    sync_connection,
    tasks,
    tokens,
    updates,
)
from atom_desktop.api.schemas import ErrorBody
from atom_desktop.api.security import (
    PUBLIC,
    RouteTable,
    SecurityConfig,
    SecurityMiddleware,
    allowed_hosts,
)

logger = logging.getLogger(__name__)

PREFIX = "/api/v1"
OPENAPI_URL = f"{PREFIX}/openapi.json"
DOCS_URL = "/docs"
#: Paths a person or a tool tries first; they answer 404 naming the two above.
GUESSED_PATHS = ("/", "/openapi.json")
MAX_BODY = 1024 * 1024
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def swagger_assets() -> Path:
    """Swagger UI's files, shipped in a Python package (the docs work offline)."""
    import swagger_ui_bundle  # noqa: PLC0415 - only the docs need it

    return Path(swagger_ui_bundle.swagger_ui_path)


def create_app(agent: AgentContext, *, heartbeat_s: float = 15.0) -> FastAPI:
    """The API over ``agent``; every request passes :class:`SecurityMiddleware`."""
    app = FastAPI(
        title="ATOM Desktop local API",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        description="The embedded backend of ATOM Desktop. Every route except health, "
        "the OpenAPI document and the docs needs `Authorization: Bearer <token>`.",
        # A local agent reports to nobody: FastAPI would otherwise trace
        # requests into any OpenTelemetry provider configured in the
        # environment (request data leaving the machine), and checks for one
        # on every request.
        telemetry=NO_TELEMETRY,
    )
    app.state.agent = agent
    app.state.streams = OpenStreams(agent.tokens)
    app.state.heartbeat_s = heartbeat_s
    routes = RouteTable()
    install_error_handlers(
        app, methods_at=routes.methods_at, guides={"docs": DOCS_URL, "openapi": OPENAPI_URL}
    )
    routers = (
        health.router,
        tasks.router,
        runs.router,
        tokens.router,
        audit.router,
        events.router,
        app_window.router,
        automations.router,
        approvals.router,
        sync.router,
        sync_connection.router,
        integrations.router,
        updates.router,
        diagnostics.router,
        alerts.router,
        assistant.router,
    )
    for router in routers:
        app.include_router(router, prefix=PREFIX)
        routes.add_router(PREFIX, router)
    app.include_router(metrics.router, prefix=PREFIX)
    routes.add_router(PREFIX, metrics.router)
    # The provider sends the browser here; ``state`` guards it (no token).
    app.include_router(oauth_callback.router)
    routes.add(oauth_callback.CALLBACK_PATH, ("GET",), PUBLIC)
    routes.add(OPENAPI_URL, ("GET",), PUBLIC)
    routes.add(DOCS_URL, ("GET",), PUBLIC)
    routes.add_prefix("/docs/assets", PUBLIC)
    # Where people and tools look for an API first: no token needed to be
    # told (404) where the docs and the OpenAPI document are.
    for guess in GUESSED_PATHS:
        routes.add(guess, ("GET",), PUBLIC)

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="ATOM Desktop API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    app.mount("/docs/assets", StaticFiles(directory=swagger_assets()), name="docs-assets")
    _complete_openapi(app)

    settings = agent.settings

    # Fixed for the server's life: a changed port or origin list takes effect
    # at the next start (the settings page says so).
    extra = (settings.host,) if settings.host not in ("127.0.0.1", "::1", "localhost") else ()
    config = SecurityConfig(
        hosts=allowed_hosts(agent.api_port, extra),
        origins=frozenset(settings.allowed_origins),
        max_body=MAX_BODY,
    )

    async def record_action(
        principal: Principal | None, action: str, target: str | None, status: int
    ) -> None:
        refused = status in (401, 403, 415, 429)
        result = "ok" if status < 400 else "refused" if refused else "error"
        try:
            await asyncio.to_thread(
                agent.audit.record,
                token_name=principal.name if principal else None,
                action=action,
                target=target,
                status=status,
                result=result,
            )
        except Exception:
            logger.exception("Could not write the audit entry for %s", action)

    async def audit_hook(scope_: Scope, principal: Principal | None, status: int) -> None:
        action = f"{scope_['method']} {scope_.get('atom_route', scope_['path'])}"
        params = scope_.get("path_params") or {}
        target = next(iter(params.values()), None) if params else None
        await record_action(principal, action, str(target) if target is not None else None, status)

    # What a WebSocket does (a run's stdin, cancel) is audited as its HTTP twin is.
    app.state.audit = record_action

    limiter = RateLimiter(Limits.from_settings(settings)) if settings.rate_limits else None

    async def limited_hook(scope_: Scope, principal: Principal | None, limited: Limited) -> None:
        # Once a burst (the first 429 of it), not once a request: a flood of
        # refusals must not become a flood of writes.
        request = f"{scope_.get('method', 'WEBSOCKET')} {scope_.get('atom_route', scope_['path'])}"
        await record_action(principal, f"rate_limited {limited.kind}", request, 429)

    stats = RequestStats(routes.templates())
    app.state.request_stats = stats
    app.state.metrics = agent_registry(agent, stats, limiter)

    # Added first, so it runs inside the security middleware: after every check.
    app.add_middleware(PlainPaths, routes=plain_routes(PREFIX, routers))
    # Around every handler, inside the security checks (which audit its 500).
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(
        SecurityMiddleware,
        config=config,
        authority=agent.tokens,
        routes=routes,
        audit=audit_hook,
        limiter=limiter,
        on_limited=limited_hook,
        metrics=stats,
    )
    return app


def _complete_openapi(app: FastAPI) -> None:
    """Tell the OpenAPI document (and Swagger's Authorize box) about bearer tokens and errors."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {})
            components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            # Every route's error responses refer to ErrorBody (schemas.ERROR_RESPONSES).
            error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = components.setdefault("schemas", {})
            schemas.update(error.pop("$defs", {}))
            schemas["ErrorBody"] = error
            # Every operation passes the rate limits (api/rate_limit.py).
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.setdefault("responses", {})["429"] = RATE_LIMITED_RESPONSE
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
