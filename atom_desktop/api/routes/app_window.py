"""``POST /api/v1/app/activate``: bring the desktop window to the front."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.errors import StateConflictError
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.core.events import WindowActivationRequested

router = APIRouter(prefix="/app", tags=["agent"], responses=ERROR_RESPONSES)


class Activation(BaseModel):
    """The request was handed to the window."""

    status: Literal["activating"]


@router.post("/activate", status_code=202, openapi_extra=scope("admin"))
async def activate(agent: AgentDep) -> Activation:
    """Show and raise the window (what a second launch of the app asks for).

    409 when the agent runs headless (``atom-desktop serve``): there is no
    window to show.
    """
    if not agent.window_attached:
        raise StateConflictError(
            "This agent runs without a window (headless); there is nothing to show. "
            "Stop it and start the desktop app instead."
        )
    agent.bus.publish(WindowActivationRequested())
    return Activation(status="activating")
