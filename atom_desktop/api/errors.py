"""The one error shape of the API: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from atom_desktop.automations.errors import RunNotInProgressError
from atom_desktop.automations.triggers import TriggerError
from atom_desktop.core.errors import AtomError
from atom_desktop.integrations.errors import Failure, IntegrationError
from atom_desktop.runner.errors import RunNotActiveError
from atom_desktop.runner.policy import CommandDeniedError
from atom_desktop.store.errors import ConflictError, NotFoundError, StoreError
from atom_desktop.store.tasks import InvalidCursorError

logger = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "token_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    503: "unavailable",
}


class StateConflictError(AtomError):
    """The request is valid but the agent is not in a state to do it (HTTP 409)."""


class ScopeError(AtomError):
    """The token lacks a scope this particular request needs (HTTP 403)."""


# The first match wins: subclasses before their bases.
_STATUS_OF_ERRORS: tuple[tuple[tuple[type[AtomError], ...], int, str], ...] = (
    ((NotFoundError,), 404, "not_found"),
    ((ScopeError,), 403, "forbidden"),
    (
        (ConflictError, RunNotActiveError, RunNotInProgressError, StateConflictError),
        409,
        "conflict",
    ),
    ((InvalidCursorError,), 400, "invalid_cursor"),
    ((StoreError,), 503, "store_unavailable"),
)


def integration_status(exc: IntegrationError) -> tuple[int, str]:
    """The HTTP status of an integration failure, by what the client can do about it."""
    match exc.failure:
        case Failure.TRANSIENT:
            return 502, "provider_unreachable"  # a gateway's word for "upstream failed"
        case Failure.PROTOCOL:
            return 502, "provider_error"
        case Failure.RECONNECT:
            return 409, "reconnect_needed"
        case _:
            return 400, "bad_request"


def status_of(exc: AtomError) -> tuple[int, str]:
    """The HTTP status and error code for an error of the agent's (400 unless known)."""
    for kinds, status, code in _STATUS_OF_ERRORS:
        if isinstance(exc, kinds):
            return status, code
    return 400, "bad_request"


def error_body(code: str, message: str, **extra: Any) -> bytes:
    """The JSON bytes of an error response."""
    return json.dumps({"error": {"code": code, "message": message, **extra}}).encode()


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    """An error response with the shared shape."""
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(
    app: FastAPI,
    *,
    methods_at: Callable[[str], Iterable[str]] | None = None,
    guides: Mapping[str, str] | None = None,
) -> None:
    """Map every exception to the shared error shape; never leak a traceback.

    ``methods_at(path)`` names the methods the API serves at a path: a 405
    answer lists them all in ``Allow`` (RFC 9110), where the router would
    name those of one route only, and the static files none. ``guides``
    (name: path, e.g. the docs and the OpenAPI document) are where a 404 for
    a path the API does not have points the client.
    """
    pointer = ""
    if guides:
        pointer = " See " + " or ".join(f"{path} ({name})" for name, path in guides.items()) + "."

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return error_response(
            422, "invalid_input", f"{first['field']}: {first['message']}", details=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        code = _STATUS_CODES.get(status, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(exc.headers or {})
        if status == 405 and methods_at is not None:
            headers["Allow"] = ", ".join(methods_at(request.scope["path"]))
        extra: dict[str, str] = {}
        if status == 404 and message == "Not Found":
            # The router's (or the static files') own 404: no such path at all.
            message = "No such path in this API." + pointer
            extra = dict(guides or {})
        response = error_response(status, code, message, **extra)
        response.headers.update(headers)
        return response

    @app.exception_handler(AtomError)
    async def _atom(request: Request, exc: AtomError) -> JSONResponse:
        if isinstance(exc, CommandDeniedError):
            logger.warning("Refused a run: %s", exc.message)
            return error_response(403, "command_denied", exc.message, rule=exc.rule)
        if isinstance(exc, TriggerError):
            return error_response(422, "invalid_input", exc.message, field=exc.field)
        if isinstance(exc, IntegrationError):
            status, code = integration_status(exc)
            extra = {"hint": exc.hint} if exc.hint else {}
            return error_response(status, code, exc.message, **extra)
        status, code = status_of(exc)
        return error_response(status, code, exc.message)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        return error_response(
            500, "internal_error", "Something went wrong inside the agent; see its log."
        )
