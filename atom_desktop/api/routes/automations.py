"""Automations (first part): previewing when a schedule fires."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from atom_desktop.api.deps import scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.automations.triggers import Schedule, build_trigger, next_fire_times

router = APIRouter(prefix="/automations", tags=["automations"], responses=ERROR_RESPONSES)


class PreviewRequest(BaseModel):
    """A schedule, and how many fire times to show."""

    model_config = ConfigDict(extra="forbid")

    trigger: Schedule
    count: Annotated[int, Field(ge=1, le=50)] = 5


class Preview(BaseModel):
    """The next fire times (fewer when the schedule ends, e.g. a past date: none)."""

    times: list[AwareDatetime]


@router.post("/preview", openapi_extra=scope("automate"))
async def preview(body: PreviewRequest) -> Preview:
    """The next fire times of a trigger; a bad cron expression or time zone is 422."""
    trigger = build_trigger(body.trigger)
    return Preview(times=next_fire_times(trigger, datetime.now(UTC), body.count))
