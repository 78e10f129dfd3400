"""Pieces shared by the streaming routes (SSE and WebSocket)."""

from __future__ import annotations

from typing import TypeVar

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
