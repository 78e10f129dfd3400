"""The assistant: requests answered as a stream, plans approved step by step, conversations.

Scopes follow the approvals of automations: asking, editing, rejecting and
running what is already allowed need ``automate``; approving a step needs
``admin``, because a token that may write plans must not be able to approve
the commands it asked for - that decision is the person's (the window and the
owner token have ``admin``). An approval names the digest of each step as the
client was shown it; a step changed since is a 409 and stays unapproved.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from atom_desktop.api.deps import AgentDep, PrincipalDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.assistant.plan import REQUEST_MAX, PlanStep
from atom_desktop.assistant.service import AskEvent, ConversationView, Decision, PlanView
from atom_desktop.assistant.step_digest import step_body
from atom_desktop.core.formats import NOT_BLANK, check_text
from atom_desktop.store.conversations import ConversationRecord, MessageRecord

router = APIRouter(prefix="/assistant", tags=["assistant"], responses=ERROR_RESPONSES)

Id = Annotated[str, Path(min_length=1, max_length=64)]
StepIndex = Annotated[int, Path(ge=0, le=100)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _some_text(value: str) -> str:
    return check_text(value, blank=False)


class MessageBody(BaseModel):
    """A request in plain words, in a new conversation or an existing one."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str,
        Field(min_length=1, max_length=REQUEST_MAX, json_schema_extra={"pattern": NOT_BLANK}),
        AfterValidator(_some_text),
    ]
    conversation_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None


class StepPublic(BaseModel):
    """One step of a plan, with what decides whether it runs."""

    index: int
    kind: str
    status: str
    digest: str
    step: dict[str, Any]
    description: str
    commands: list[str]
    needs_approval: bool = Field(description="False when its kind is set to run by itself.")
    refused: str | None = Field(description="Why the command policy refuses it, if it does.")
    edited: bool
    decided_by: str | None
    decided_at: datetime | None
    run_id: str | None
    result: dict[str, Any] | None
    started_at: datetime | None
    ended_at: datetime | None


class PlanPublic(BaseModel):
    """A plan and its state: waiting, ready, running, done, failed or answered."""

    id: str
    conversation_id: str
    message_id: str
    request: str
    created_at: datetime
    state: str
    steps: list[StepPublic]


class MessagePublic(BaseModel):
    """One message; ``sent`` is what went to the AI provider with a request (redacted)."""

    id: str
    seq: int
    role: str
    text: str
    provider: str | None
    plan_id: str | None
    created_at: datetime
    sent: list[dict[str, Any]] | None


class ConversationPublic(BaseModel):
    """A conversation in the list."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int


class ConversationList(BaseModel):
    """Conversations, the most recently active first."""

    items: list[ConversationPublic]


class ConversationDetail(ConversationPublic):
    """A conversation with its messages and plans, in order."""

    messages: list[MessagePublic]
    plans: list[PlanPublic]


class Approval(BaseModel):
    """A step to approve, with the digest it had when it was shown."""

    model_config = ConfigDict(extra="forbid")

    index: Annotated[int, Field(ge=0, le=100)]
    digest: Digest


class ApproveBody(BaseModel):
    """Steps to approve; ``run`` starts what may run now (in the background)."""

    model_config = ConfigDict(extra="forbid")

    steps: Annotated[list[Approval], Field(min_length=1, max_length=100)]
    run: bool = True


class RejectBody(BaseModel):
    """Steps to reject (they will not run; the rest of the plan goes on without them)."""

    model_config = ConfigDict(extra="forbid")

    steps: Annotated[list[Annotated[int, Field(ge=0, le=100)]], Field(min_length=1, max_length=100)]


def plan_public(view: PlanView) -> PlanPublic:
    """A plan as the API shows it."""
    record = view.record
    return PlanPublic(
        id=record.id,
        conversation_id=record.conversation_id,
        message_id=record.message_id,
        request=record.request,
        created_at=record.created_at,
        state=view.state.value,
        steps=[
            StepPublic(
                index=s.record.index,
                kind=s.record.kind,
                status=s.record.status,
                digest=s.record.digest,
                step=s.record.body,
                description=s.description,
                commands=list(s.commands),
                needs_approval=not s.auto,
                refused=s.refused,
                edited=s.record.edited,
                decided_by=s.record.decided_by,
                decided_at=s.record.decided_at,
                run_id=s.record.run_id,
                result=s.record.result,
                started_at=s.record.started_at,
                ended_at=s.record.ended_at,
            )
            for s in view.steps
        ],
    )


def _fields(record: object, model: type[BaseModel]) -> dict[str, Any]:
    # The records name their fields as the public models do.
    return {name: getattr(record, name) for name in model.model_fields}


def _conversation(record: ConversationRecord) -> ConversationPublic:
    return ConversationPublic(**_fields(record, ConversationPublic))


def _message(record: MessageRecord) -> MessagePublic:
    return MessagePublic(**_fields(record, MessagePublic))


def _detail(view: ConversationView) -> ConversationDetail:
    return ConversationDetail(
        **_conversation(view.conversation).model_dump(),
        messages=[_message(m) for m in view.messages],
        plans=[plan_public(p) for p in view.plans],
    )


def _sse(event: AskEvent) -> str:
    data = event.data
    if event.kind == "plan":
        data = plan_public(data["plan"]).model_dump(mode="json")
    return f"event: {event.kind}\ndata: {json.dumps(data)}\n\n"


@router.post(
    "/messages",
    openapi_extra=scope("automate"),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def post_message(agent: AgentDep, body: MessageBody) -> StreamingResponse:
    """Answer a request as Server-Sent Events.

    Events: ``conversation`` (its id), ``reply`` (pieces of the answer's text
    as they come), ``plan`` (the proposed plan; nothing in it has run),
    ``message`` (the stored answer's id), then ``done`` - or ``error`` with
    what went wrong and what to do. The answer is kept even if the client
    goes away before the end.
    """
    events = agent.assistant.ask_events(body.text, conversation_id=body.conversation_id)
    # The first event is read here: a wrong request or conversation is an
    # error status, not a stream that fails.
    first = await anext(events)

    async def stream() -> AsyncIterator[str]:
        yield _sse(first)
        async for event in events:
            yield _sse(event)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"},
    )


@router.get("/conversations", openapi_extra=scope("read"))
async def list_conversations(
    agent: AgentDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConversationList:
    """Conversations, the most recently active first."""
    records = await agent.assistant.async_conversations(limit, offset)
    return ConversationList(items=[_conversation(r) for r in records])


@router.get("/conversations/{conversation_id}", openapi_extra=scope("read"))
async def get_conversation(agent: AgentDep, conversation_id: Id) -> ConversationDetail:
    """One conversation with its messages (and what each request sent) and its plans."""
    return _detail(await agent.assistant.async_conversation(conversation_id))


@router.delete("/conversations/{conversation_id}", status_code=204, openapi_extra=scope("automate"))
async def delete_conversation(agent: AgentDep, conversation_id: Id) -> Response:
    """Delete a conversation, its messages and plans (runs stay in the run history)."""
    await agent.assistant.async_delete(conversation_id)
    return Response(status_code=204)


@router.get("/plans/{plan_id}", openapi_extra=scope("read"))
async def get_plan(agent: AgentDep, plan_id: Id) -> PlanPublic:
    """One plan and the state of each step."""
    return plan_public(await agent.assistant.async_plan(plan_id))


@router.post("/plans/{plan_id}/approve", openapi_extra=scope("admin"))
async def approve_steps(
    agent: AgentDep, principal: PrincipalDep, plan_id: Id, body: ApproveBody
) -> PlanPublic:
    """Approve steps as shown (by digest) and, with ``run``, start what may run now."""
    decisions = [Decision(a.index, approve=True, digest=a.digest) for a in body.steps]
    view = await agent.assistant.async_decide(plan_id, decisions, by=principal.name, run=body.run)
    return plan_public(view)


@router.post("/plans/{plan_id}/reject", openapi_extra=scope("automate"))
async def reject_steps(
    agent: AgentDep, principal: PrincipalDep, plan_id: Id, body: RejectBody
) -> PlanPublic:
    """Reject steps: they will not run."""
    decisions = [Decision(index, approve=False) for index in body.steps]
    view = await agent.assistant.async_decide(plan_id, decisions, by=principal.name, run=False)
    return plan_public(view)


@router.put("/plans/{plan_id}/steps/{index}", openapi_extra=scope("automate"))
async def edit_step(
    agent: AgentDep, principal: PrincipalDep, plan_id: Id, index: StepIndex, body: PlanStep
) -> PlanPublic:
    """Replace a step that has not run; it needs approval again (its digest changes)."""
    view = await agent.assistant.async_edit(plan_id, index, step_body(body), by=principal.name)
    return plan_public(view)


@router.post("/plans/{plan_id}/run", openapi_extra=scope("automate"))
async def run_plan(agent: AgentDep, plan_id: Id) -> PlanPublic:
    """Start what may run now: approved steps and those of kinds set to run by themselves."""
    view = await agent.assistant.async_plan(plan_id)
    agent.assistant.start_run(plan_id)
    return plan_public(view)
