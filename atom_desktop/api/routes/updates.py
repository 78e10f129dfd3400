"""Signed updates, visible and drivable: ``GET /updates``, ``POST /updates/check``, ``/apply``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.errors import StateConflictError
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.updates.errors import UpdateError
from atom_desktop.updates.status import UpdateState, UpdateStatus

router = APIRouter(prefix="/updates", tags=["updates"], responses=ERROR_RESPONSES)


class UpdateStatusPublic(BaseModel):
    """Where updates stand for this copy of the app."""

    state: UpdateState
    installed: str = Field(description="the running version")
    message: str | None = Field(description="why updates are off, what failed, what waits")
    available: str | None = Field(description="the newer version offered, if any")
    notes: str | None = Field(description="its release notes")
    received: int = Field(description="bytes of its build downloaded so far")
    total: int = Field(description="the build's size in bytes (0 before a download)")
    runs_active: int = Field(description="runs the install waits for (while deferred)")
    checked_at: datetime | None = Field(description="when the last check ended")


def _public(status: UpdateStatus) -> UpdateStatusPublic:
    return UpdateStatusPublic(
        state=status.state,
        installed=status.installed,
        message=status.message,
        available=status.available,
        notes=status.notes,
        received=status.received,
        total=status.total,
        runs_active=status.runs_active,
        checked_at=status.checked_at,
    )


@router.get("", openapi_extra=scope("read"))
async def update_status(agent: AgentDep) -> UpdateStatusPublic:
    """The update state: off (and why), up to date, available, downloading, ready, deferred..."""
    return _public(agent.updates.status)


@router.post("/check", status_code=202, openapi_extra=scope("admin"))
async def update_check(agent: AgentDep) -> UpdateStatusPublic:
    """Check for an update now; the status changes as the check goes. 409 when updates are off."""
    try:
        return _public(await agent.updates.async_check_now())
    except UpdateError as exc:
        raise StateConflictError(exc.message) from None


@router.post("/apply", status_code=202, openapi_extra=scope("admin"))
async def update_apply(agent: AgentDep) -> UpdateStatusPublic:
    """Install the downloaded, verified update: now if no run is active, else when they end.

    The app then quits and the new version starts; if it fails to start, the
    previous version is restored. 409 when no update is ready.
    """
    try:
        return _public(await agent.updates.async_apply())
    except UpdateError as exc:
        raise StateConflictError(exc.message) from None
