"""Sync, visible and drivable: its status, a sync now, and the conflict inbox.

``GET /sync/status``, ``POST /sync/run``; ``GET /sync/conflicts`` and
``POST /sync/conflicts/{id}/restore`` or ``/dismiss``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from atom_desktop.api.deps import AgentDep, PrincipalDep, scope
from atom_desktop.api.errors import StateConflictError
from atom_desktop.api.routes.automations import may_run_commands
from atom_desktop.api.schemas import ERROR_RESPONSES, MAX_ID
from atom_desktop.core.hlc import unpack
from atom_desktop.store.sync_conflicts import (
    REJECTED,
    ConflictRecord,
)
from atom_desktop.sync.secrets import public_automation
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
            "Sync is off: no server is configured. Connect one with: atom-desktop sync "
            "connect URL (or set ATOM_SYNC_URL and restart the agent)."
        )
    number = await agent.sync.async_run_now()
    return SyncRunAccepted(run=number, status=_public(await agent.sync.async_status()))


# -- the conflict inbox ---------------------------------------------------------------


class VersionStamp(BaseModel):
    """A version's hybrid logical clock stamp: which device made it, and when by its clock."""

    hlc: int = Field(ge=0, description="the stamp: milliseconds << 16 | counter")
    device_id: str = Field(description="the device that made the version")
    at: datetime = Field(description="the wall-clock time in the stamp (its device's clock)")


CurrentStatus = Literal["todo", "doing", "done", "cancelled", "enabled", "disabled"] | None


class ConflictCurrent(BaseModel):
    """The row as this device holds it now: the version that won, or one made after it."""

    exists: bool = Field(description="false when the row is deleted here")
    title: str | None = Field(description="a task's title or an automation's name")
    status: CurrentStatus = Field(
        description="a task's status; enabled or disabled for an automation"
    )
    updated_at: datetime | None
    version: VersionStamp | None = Field(description="its sync version here")


class ConflictPublic(BaseModel):
    """A version kept in the conflict inbox, what it lost to, and the row as it is now."""

    id: int
    entity: Literal["task", "automation", "run"]
    entity_id: str
    reason: Literal["lost", "rejected"] = Field(
        description="lost: a change made here that a newer version from another device "
        "overwrote; rejected: another device's version this device could not store (see why)"
    )
    deleted: bool = Field(description="the kept version is a deletion (content is null)")
    content: dict[str, Any] | None = Field(
        description="the kept version: a task's fields, or an automation's name, enabled and "
        "spec with its secrets (step environments, secret headers, secret-shaped text) shown "
        "as ***; restoring brings back the original. Null for a deletion and for a run."
    )
    version: VersionStamp = Field(description="the kept version's stamp")
    winner: VersionStamp = Field(description="the version it lost to")
    why: str | None = Field(description="why a rejected version could not be stored here")
    current: ConflictCurrent
    detected_at: datetime
    resolved_at: datetime | None = Field(description="when it was restored or dismissed")


class ConflictPage(BaseModel):
    """Conflicts newest first; pass ``next_before`` as ``before`` for older ones."""

    items: list[ConflictPublic]
    next_before: int | None


def _stamp(hlc: int, device_id: str) -> VersionStamp:
    physical_ms, _ = unpack(hlc)
    return VersionStamp(
        hlc=hlc, device_id=device_id, at=datetime.fromtimestamp(physical_ms / 1000, UTC)
    )


def _content(record: ConflictRecord) -> dict[str, Any] | None:
    """What the listing shows of the kept version: never an automation's secrets.

    A lost automation change holds this device's own spec, secrets and all
    (restoring needs them); the listing takes only ``read``, where reading
    an automation takes ``automate``, so they are masked as a push masks them.
    """
    if record.deleted or record.entity not in ("task", "automation"):
        return None
    data = record.payload
    if record.reason == REJECTED:
        inner = data.get("data")
        data = inner if isinstance(inner, dict) else {}
    return public_automation(data) if record.entity == "automation" else data


def _conflict_public(record: ConflictRecord) -> ConflictPublic:
    current = record.current
    why = record.payload.get("why") if record.reason == REJECTED else None
    return ConflictPublic(
        id=record.id,
        entity=cast(Literal["task", "automation", "run"], record.entity),
        entity_id=record.entity_id,
        reason=cast(Literal["lost", "rejected"], record.reason),
        deleted=record.deleted,
        content=_content(record),
        version=_stamp(record.hlc, record.device_id),
        winner=_stamp(record.winner_hlc, record.winner_device_id),
        why=why if isinstance(why, str) else None,
        current=ConflictCurrent(
            exists=current.exists,
            title=current.title,
            status=cast(CurrentStatus, current.status),
            updated_at=current.updated_at,
            version=None
            if current.hlc is None or current.device_id is None
            else _stamp(current.hlc, current.device_id),
        ),
        detected_at=record.detected_at,
        resolved_at=record.resolved_at,
    )


ConflictId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/conflicts", openapi_extra=scope("read"))
async def list_conflicts(
    agent: AgentDep,
    include_resolved: Annotated[
        bool, Query(description="list restored and dismissed conflicts too")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> ConflictPage:
    """Conflicts waiting to be looked at (with ``include_resolved``, all), newest first.

    Each holds the version kept (a change made here that lost to a newer one
    from another device, or another device's version this device could not
    store), the version it lost to, and the row as it is here now.
    """
    records = await agent.sync_conflicts.async_page(
        include_resolved=include_resolved, limit=limit, before=before
    )
    next_before = records[-1].id if len(records) == limit else None
    return ConflictPage(items=[_conflict_public(r) for r in records], next_before=next_before)


@router.post("/conflicts/{conflict_id}/restore", openapi_extra=scope("automate"))
async def restore_conflict(
    agent: AgentDep, principal: PrincipalDep, conflict_id: ConflictId
) -> ConflictPublic:
    """Make the kept version the current one again, as a new change made here now.

    It goes to the sync queue and, stamped after the version it lost to,
    wins at the next push; the conflict is resolved. 404 for an unknown
    conflict; 409 for one already resolved, for a version another device
    made that this one could not store, for an automation deleted since
    (restore it by creating it again), and for a version that can no longer
    be stored (the message says why). Restoring an automation with shell
    steps that run without approval needs the ``run`` scope too.
    """
    restored = await agent.sync_conflicts.async_restore(
        conflict_id, check_spec=partial(may_run_commands, principal)
    )
    return _conflict_public(restored)


@router.post("/conflicts/{conflict_id}/dismiss", openapi_extra=scope("automate"))
async def dismiss_conflict(agent: AgentDep, conflict_id: ConflictId) -> ConflictPublic:
    """Keep the version that won and resolve the conflict; nothing else changes.

    404 for an unknown conflict, 409 for one already resolved.
    """
    return _conflict_public(await agent.sync_conflicts.async_dismiss(conflict_id))
