"""The API's edge for failures nobody expected: logged (so reported), answered 500.

Starlette's catch-all handler answers 500 and then raises the exception on
to the server, so that the server can log it; uvicorn then closes the
connection, and a client could see its answer cut off by a reset instead of
the 500. Caught here instead, the exception is logged with its traceback
before the answer (its error report, diagnostics/edges.py, exists when the
client reads the 500), the answer is the API's error shape, and the
connection stays usable.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from atom_desktop.api.errors import error_response

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong inside the agent; see its log and its error reports."


class UnexpectedErrors:
    """ASGI layer: an exception out of a handler becomes a logged 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point; costs a ``try`` per request until something fails."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            logger.error(
                "Unexpected error answering %s %s",
                scope["method"],
                scope.get("atom_route", scope["path"]),
                exc_info=exc,
            )
            response = error_response(500, "internal_error", INTERNAL_ERROR)
            try:
                await response(scope, receive, send)
            except Exception:
                # Half an answer was sent already: only the server can end it.
                raise exc from None
