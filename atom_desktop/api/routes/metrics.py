"""``GET /api/v1/metrics`` (scope ``read``): the Prometheus text format."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from atom_desktop.api.deps import scope
from atom_desktop.api.schemas import ERROR_RESPONSES

router = APIRouter(tags=["agent"], responses=ERROR_RESPONSES)


@router.get(
    "/metrics",
    openapi_extra=scope("read"),
    response_class=Response,
    responses={
        200: {
            "description": "The agent's metrics in the Prometheus text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Requests, runs, automations, sync, store and process figures, for Prometheus."""
    registry: CollectorRegistry = request.app.state.metrics
    # Off the loop: the collector reads the process's figures and file sizes.
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
