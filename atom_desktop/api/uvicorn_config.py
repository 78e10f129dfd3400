"""How uvicorn serves the API, apart from the server so a benchmark's bare app
can be served the same way without loading the agent."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from atom_desktop.api.http_protocol import HeadLimitedProtocol


def uvicorn_config(app: ASGIApp) -> uvicorn.Config:
    """How uvicorn serves the API (the socket is bound apart, by
    :func:`atom_desktop.api.server.bind`)."""
    return uvicorn.Config(
        app,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        access_log=False,
        lifespan="off",
        # Said, not guessed: uvicorn takes an app whose __call__ is not a
        # coroutine function for an ASGI 2 app, and the security layer's is not.
        interface="asgi3",
        # The C parser (httptools): h11 (pure Python) spends more per request
        # than the whole of a /health answer. Ours bounds the request head,
        # which httptools does not (WebSocket handshakes included).
        http=HeadLimitedProtocol,
        timeout_graceful_shutdown=3,
        ws="websockets-sansio",
        # Compressing megabytes of output per second over loopback costs far
        # more CPU on the agent loop than it could ever save.
        ws_per_message_deflate=False,
    )
