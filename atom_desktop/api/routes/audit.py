"""``GET /api/v1/audit``: every change, through the API or the window (admin scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES, MAX_ID, AuditEntryPublic, AuditPage

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", openapi_extra=scope("admin"))
def list_audit(
    agent: AgentDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> AuditPage:
    """Newest first."""
    entries = agent.audit.page(limit=limit, before=before)
    items = [
        AuditEntryPublic(
            id=e.id,
            at=e.at,
            actor=e.actor.value,
            token_name=e.token_name,
            action=e.action,
            target=e.target,
            status=e.status,
            result=e.result,
        )
        for e in entries
    ]
    next_before = entries[-1].id if len(entries) == limit else None
    return AuditPage(items=items, next_before=next_before)
