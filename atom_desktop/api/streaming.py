"""Pieces shared by the streaming routes (SSE and WebSocket)."""

from __future__ import annotations

from typing import TypeVar

from starlette.websockets import WebSocket

from atom_desktop.api.open_streams import REVOKED, StreamStop
from atom_desktop.api.schemas import MAX_ID

T = TypeVar("T")


def resume_point(value: str | None, default: int) -> int:
    """A ``Last-Event-ID`` / ``since`` value as a sequence number (``default`` if unusable)."""
    if value is None:
        return default
    try:
        return max(0, min(int(value), MAX_ID))
    except ValueError:
        return default


# The last event of a stream whose token was revoked: the client learns why
# the stream ended and that reconnecting with the same token will not work.
SSE_REVOKED = (
    "event: revoked\n"
    'data: {"message": "The token that opened this stream was revoked; '
    'connect again with a valid token."}\n\n'
)
# 1008 (policy violation): the peer is no longer allowed to use the socket.
WS_REVOKED = 1008
WS_GOING_AWAY = 1001


async def close_socket(websocket: WebSocket, stop: StreamStop, normal: int = WS_GOING_AWAY) -> None:
    """Close a WebSocket whose stream has ended, saying why when its token was revoked."""
    if stop.reason == REVOKED:
        await websocket.close(WS_REVOKED, reason="token revoked")
    else:
        await websocket.close(normal)
