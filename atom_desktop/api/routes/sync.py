"""``GET /api/v1/sync/status`` and ``POST /api/v1/sync/run``: sync, visible and drivable."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.errors import StateConflictError
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.sync.service import SyncStatus

router = APIRouter(prefix="/sync", tags=["sync"], responses=ERROR_RESPONSES)


class SyncStatusPublic(BaseModel):
    """What sync is doing and what waits; never a password."""

    state: Literal["off", "syncing", "up_to_date", "offline", "error"]
    server: str | None
    pending: int
    oldest_pending: datetime | None
    last_success: datetime | None
    last_error: str | None
    conflicts: int
    requested: int
    completed: int
    failed: int


class SyncRunAccepted(BaseModel):
    """A sync was asked for; ``run`` is its number in the status' counters."""

    run: int
    status: SyncStatusPublic


def _public(status: SyncStatus) -> SyncStatusPublic:
    return SyncStatusPublic(
        **{name: getattr(status, name) for name in SyncStatusPublic.model_fields}
    )


@router.get("/status", openapi_extra=scope("read"))
async def sync_status(agent: AgentDep) -> SyncStatusPublic:
    """State (off, syncing, up_to_date, offline, error), queue, last success and error, conflicts.

    ``requested``, ``completed`` and ``failed`` count the syncs asked for by
    ``POST /sync/run``: a run of number N has ended once ``completed`` or
    ``failed`` is at least N.
    """
    return _public(await agent.sync.async_status())


@router.post("/run", status_code=202, openapi_extra=scope("automate"))
async def sync_run(agent: AgentDep) -> SyncRunAccepted:
    """Start a full sync now, even while sync waits to retry after a failure.

    409 when sync is off (no server configured).
    """
    if not agent.sync.enabled:
        raise StateConflictError(
            "Sync is off: no server is configured. Set ATOM_SYNC_URL (or sync_url in the "
            "config file) and restart the agent."
        )
    number = await agent.sync.async_run_now()
    return SyncRunAccepted(run=number, status=_public(await agent.sync.async_status()))
