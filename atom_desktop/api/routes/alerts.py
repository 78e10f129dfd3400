"""``GET /api/v1/alerts``: the alerts raised lately (read scope).

Alerts are kept in memory only (the last 50 of this run of the agent);
each was also an ``alert`` event on the event stream. Titles and messages
were redacted when raised (diagnostics/alerts.py).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.core.alert_kinds import AlertKind

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=ERROR_RESPONSES)


class AlertPublic(BaseModel):
    """One alert, as the desktop notification showed it."""

    alert: AlertKind
    subject: str = Field(description="What it is about: an automation's or account's id, …")
    title: str
    message: str
    time: datetime
    repeats: int = Field(description="Alerts of its kind the rate limit held back before it.")


class AlertList(BaseModel):
    """The alerts raised since the agent started (the last 50), newest first."""

    items: list[AlertPublic]


@router.get("", openapi_extra=scope("read"))
def list_alerts(agent: AgentDep) -> AlertList:
    """The alerts raised lately, newest first."""
    return AlertList(
        items=[
            AlertPublic(
                alert=a.kind,
                subject=a.subject,
                title=a.title,
                message=a.message,
                time=a.time,
                repeats=a.repeats,
            )
            for a in agent.alerts.recent()
        ]
    )
