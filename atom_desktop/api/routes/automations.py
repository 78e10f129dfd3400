"""Automations: CRUD, enable/disable, trigger, history, missed times, schedule preview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field
from starlette.convertors import StringConvertor, register_url_convertor

from atom_desktop.api.auth import Principal
from atom_desktop.api.deps import AgentDep, PrincipalDep, scope
from atom_desktop.api.errors import ScopeError
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.automations.model import AutomationSpec, spec_json
from atom_desktop.automations.service import AutomationState
from atom_desktop.automations.triggers import (
    AnyOf,
    Schedule,
    TriggerError,
    build_trigger,
    next_fire_times,
)
from atom_desktop.core.formats import whole_number
from atom_desktop.core.statuses import AutomationRunStatus
from atom_desktop.runner.request import STRICT
from atom_desktop.store.automation_runs import AutomationRunRecord
from atom_desktop.store.errors import NotFoundError


class _AutomationId(StringConvertor):
    """A path segment that names an automation: anything but ``preview``.

    ``/automations/preview`` is a route of its own (POST). Without this, its
    other methods went to ``/automations/{automation_id}`` and answered that
    no automation "preview" exists, where the document says 405 with
    ``Allow: POST``. A literal segment now wins for every method.
    """

    regex = "(?!preview$)[^/]+"


# Starlette keeps its convertors in one registry, read when a route's path is
# compiled (below, and by the security layer's route table): registering the
# same class again changes nothing.
register_url_convertor("automation_id", _AutomationId())
AUTOMATION = "/{automation_id:automation_id}"

router = APIRouter(prefix="/automations", tags=["automations"], responses=ERROR_RESPONSES)


class RunSummary(BaseModel):
    """The newest run of an automation."""

    id: str
    status: AutomationRunStatus
    created_at: datetime
    ended_at: datetime | None


class AutomationPublic(BaseModel):
    """An automation as the API shows it."""

    id: str
    name: str
    enabled: bool
    spec: dict[str, Any]
    next_fire_at: datetime | None
    last_run: RunSummary | None
    active_runs: int
    created_at: datetime
    updated_at: datetime


class AutomationList(BaseModel):
    """Every automation."""

    items: list[AutomationPublic]


class AutomationRunPublic(BaseModel):
    """One automation run: its trigger, each step's result, how it ended."""

    id: str
    automation_id: str
    trigger_kind: str
    trigger: dict[str, Any]
    status: AutomationRunStatus
    steps: list[dict[str, Any]]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class AutomationRunPage(BaseModel):
    """Runs newest first; pass ``next_before`` as ``before`` for older ones."""

    items: list[AutomationRunPublic]
    next_before: str | None


class MissedPublic(BaseModel):
    """A scheduled time that did not fire on time, and what was done about it."""

    scheduled_at: datetime
    recorded_at: datetime
    reason: str = Field(description="agent_stopped, late (asleep or stalled) or paused")
    action: str = Field(description="ran, coalesced (into one run) or skipped")


class MissedList(BaseModel):
    """Missed times, newest first."""

    items: list[MissedPublic]


class TriggerRequest(BaseModel):
    """An optional JSON payload, given to the steps as TRIGGER_PAYLOAD / ${trigger.payload}."""

    model_config = STRICT

    payload: Any = None


class PreviewRequest(BaseModel):
    """A schedule, and how many fire times to show."""

    model_config = STRICT

    trigger: Schedule
    count: Annotated[int, Field(ge=1, le=50), BeforeValidator(whole_number)] = 5


class Preview(BaseModel):
    """The next fire times (fewer when the schedule ends, e.g. a past date: none)."""

    times: list[AwareDatetime]


def may_run_commands(principal: Principal, spec: AutomationSpec) -> None:
    """Shell steps that run without a person's approval need the ``run`` scope too.

    ``automate`` alone would otherwise be a way around ``run``: write a shell
    step, trigger it. With ``approval: ask`` each command waits for a person
    (approving needs ``admin``), so ``automate`` is enough for those.
    """
    has_shell = any(step.type == "shell" for step in (*spec.steps, *spec.on_failure))
    if has_shell and spec.approval == "auto" and not principal.allows("run"):
        raise ScopeError(
            "Shell steps that run without approval need a token with the 'run' scope as well "
            "as 'automate'; or set approval to 'ask'."
        )


def _public(state: AutomationState) -> AutomationPublic:
    record, last = state.record, state.last_run
    return AutomationPublic(
        id=record.id,
        name=record.name,
        enabled=record.enabled,
        spec=spec_json(state.spec),
        next_fire_at=state.next_fire_at,
        last_run=None
        if last is None
        else RunSummary(
            id=last.id, status=last.status, created_at=last.created_at, ended_at=last.ended_at
        ),
        active_runs=state.active_runs,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def run_public(record: AutomationRunRecord) -> AutomationRunPublic:
    """The API shape of a stored automation run."""
    return AutomationRunPublic(
        **{name: getattr(record, name) for name in AutomationRunPublic.model_fields}
    )


@router.post("/preview", openapi_extra=scope("automate"))
async def preview(body: PreviewRequest) -> Preview:
    """The next fire times of a trigger; a bad or never-firing cron, or a bad time zone, is 422."""
    try:
        trigger = build_trigger(body.trigger)
    except TriggerError as exc:
        raise TriggerError(f"trigger.{exc.field}", exc.message.split(": ", 1)[-1]) from None
    return Preview(times=next_fire_times(AnyOf([trigger]), datetime.now(UTC), body.count))


@router.get("", openapi_extra=scope("automate"))
async def list_automations(agent: AgentDep) -> AutomationList:
    """Every automation with its state, next fire time and last run."""
    return AutomationList(items=[_public(s) for s in await agent.automations.async_list()])


@router.post("", status_code=201, openapi_extra=scope("automate"))
async def create_automation(
    agent: AgentDep, principal: PrincipalDep, body: AutomationSpec
) -> AutomationPublic:
    """Create an automation; a bad or never-firing cron, time zone or glob is 422 naming it."""
    may_run_commands(principal, body)
    return _public(await agent.automations.async_create(body))


@router.get(AUTOMATION, openapi_extra=scope("automate"))
async def get_automation(agent: AgentDep, automation_id: str) -> AutomationPublic:
    """One automation."""
    return _public(await agent.automations.async_get(automation_id))


@router.put(AUTOMATION, openapi_extra=scope("automate"))
async def replace_automation(
    agent: AgentDep, principal: PrincipalDep, automation_id: str, body: AutomationSpec
) -> AutomationPublic:
    """Replace an automation's definition; its schedule starts afresh from now."""
    may_run_commands(principal, body)
    return _public(await agent.automations.async_replace(automation_id, body))


@router.delete(AUTOMATION, status_code=204, openapi_extra=scope("automate"))
async def delete_automation(agent: AgentDep, automation_id: str) -> Response:
    """Delete an automation and its history (runs in progress are cancelled)."""
    await agent.automations.async_delete(automation_id)
    return Response(status_code=204)


@router.post("/{automation_id}/enable", openapi_extra=scope("automate"))
async def enable_automation(agent: AgentDep, automation_id: str) -> AutomationPublic:
    """Enable: its triggers fire again, counting from now."""
    return _public(await agent.automations.async_set_enabled(automation_id, enabled=True))


@router.post("/{automation_id}/disable", openapi_extra=scope("automate"))
async def disable_automation(agent: AgentDep, automation_id: str) -> AutomationPublic:
    """Disable: no trigger fires (it can still be run by hand)."""
    return _public(await agent.automations.async_set_enabled(automation_id, enabled=False))


@router.post("/{automation_id}/trigger", status_code=202, openapi_extra=scope("automate"))
async def trigger_automation(
    agent: AgentDep,
    principal: PrincipalDep,
    automation_id: str,
    body: TriggerRequest | None = None,
) -> AutomationRunPublic:
    """Run an automation now; the run goes on in the background (see its runs)."""
    may_run_commands(principal, (await agent.automations.async_get(automation_id)).spec)
    payload = body.payload if body is not None else None
    record = await agent.automations.async_trigger(automation_id, kind="api", payload=payload)
    return run_public(record)


@router.get("/{automation_id}/runs", openapi_extra=scope("automate"))
async def list_runs(
    agent: AgentDep,
    automation_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[str | None, Query(max_length=36)] = None,
) -> AutomationRunPage:
    """An automation's runs, newest first."""
    records = await agent.automations.async_runs(automation_id, limit=limit, before=before)
    next_before = records[-1].id if len(records) == limit else None
    return AutomationRunPage(items=[run_public(r) for r in records], next_before=next_before)


@router.get("/{automation_id}/runs/{run_id}", openapi_extra=scope("automate"))
async def get_run(agent: AgentDep, automation_id: str, run_id: str) -> AutomationRunPublic:
    """One run with every step's result (shell steps link their runner run)."""
    record = await agent.automations.async_run(run_id)
    if record.automation_id != automation_id:
        raise NotFoundError(f"Automation {automation_id!r} has no run {run_id!r}.")
    return run_public(record)


@router.post("/{automation_id}/runs/{run_id}/cancel", openapi_extra=scope("automate"))
async def cancel_run(agent: AgentDep, automation_id: str, run_id: str) -> AutomationRunPublic:
    """Cancel a run in progress; 409 when it has ended."""
    if (await agent.automations.async_run(run_id)).automation_id != automation_id:
        raise NotFoundError(f"Automation {automation_id!r} has no run {run_id!r}.")
    return run_public(await agent.automations.async_cancel_run(run_id))


@router.get("/{automation_id}/missed", openapi_extra=scope("automate"))
async def list_missed(
    agent: AgentDep, automation_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> MissedList:
    """Scheduled times that did not fire on time, newest first."""
    missed = await agent.automations.async_missed(automation_id, limit)
    return MissedList(
        items=[
            MissedPublic(
                scheduled_at=m.scheduled_at,
                recorded_at=m.recorded_at,
                reason=m.reason,
                action=m.action,
            )
            for m in missed
        ]
    )
