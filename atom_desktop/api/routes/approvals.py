"""Approvals of shell steps in ``ask`` automations.

Listing and denying need the ``automate`` scope; approving needs ``admin``:
a token allowed to write automations must not be able to approve the shell
commands it wrote itself - that decision belongs to the person (the window
and the owner token have ``admin``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from atom_desktop.api.deps import AgentDep, PrincipalDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.store.automation_runs import ApprovalRecord

router = APIRouter(prefix="/approvals", tags=["approvals"], responses=ERROR_RESPONSES)


class ApprovalPublic(BaseModel):
    """A shell step waiting for (or given) a decision."""

    id: str
    automation_id: str
    automation_run_id: str
    step: int
    command: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class ApprovalList(BaseModel):
    """Approvals, newest first."""

    items: list[ApprovalPublic]


def _public(record: ApprovalRecord) -> ApprovalPublic:
    return ApprovalPublic(**{name: getattr(record, name) for name in ApprovalPublic.model_fields})


@router.get("", openapi_extra=scope("automate"))
async def list_approvals(
    agent: AgentDep,
    status: Annotated[
        Literal["pending", "approved", "denied", "expired", "all"], Query()
    ] = "pending",
) -> ApprovalList:
    """Pending approvals (or those in another state, or ``all``), newest first."""
    records = await agent.automations.async_approvals(None if status == "all" else status)
    return ApprovalList(items=[_public(r) for r in records])


@router.post("/{approval_id}/approve", openapi_extra=scope("admin"))
async def approve(agent: AgentDep, principal: PrincipalDep, approval_id: str) -> ApprovalPublic:
    """Let the shell step run; 409 when it was already decided or expired."""
    record = await agent.automations.approvals.async_decide(
        approval_id, approve=True, by=principal.name
    )
    return _public(record)


@router.post("/{approval_id}/deny", openapi_extra=scope("automate"))
async def deny(agent: AgentDep, principal: PrincipalDep, approval_id: str) -> ApprovalPublic:
    """Refuse the shell step (the automation run fails, recorded as denied)."""
    record = await agent.automations.approvals.async_decide(
        approval_id, approve=False, by=principal.name
    )
    return _public(record)
