"""The assistant's conversations, the plans it proposed, and each step's approval.

A step is stored with the digest of what was shown of it. An approval names
that digest, and :meth:`ConversationRepository.start_step` is the one way a
step becomes ``running``: it checks, in the transaction that marks it, that
the step is approved for exactly its current content (or, when the caller's
policy runs that kind without asking, that it is still the proposed content).
Nothing here is synced; it stays on this device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.models import (
    AssistantConversationRow,
    AssistantMessageRow,
    AssistantPlanRow,
    AssistantPlanStepRow,
    MessageRole,
    PlanStepStatus,
)

__all__ = [
    "ConversationRecord",
    "ConversationRepository",
    "MessageRecord",
    "MessageRole",
    "PlanRecord",
    "PlanStepRecord",
    "PlanStepStatus",
]

TITLE_MAX = 200
DEFAULT_TITLE = "New conversation"
INTERRUPTED_RESULT = {"error": "The agent stopped while this step ran."}

#: A person may still decide (or edit) a step in these.
NOT_STARTED = frozenset({PlanStepStatus.PROPOSED, PlanStepStatus.APPROVED, PlanStepStatus.REJECTED})
#: How a step may end, and from where: ``denied`` also before it started.
_FINISH_FROM = {
    PlanStepStatus.SUCCEEDED: frozenset({PlanStepStatus.RUNNING}),
    PlanStepStatus.FAILED: frozenset({PlanStepStatus.RUNNING}),
    PlanStepStatus.DENIED: frozenset(
        {PlanStepStatus.RUNNING, PlanStepStatus.PROPOSED, PlanStepStatus.APPROVED}
    ),
}
CHANGED = "The step changed since it was shown; look at it again before approving it."


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A stored conversation and how many messages it holds."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message; ``sent`` is what went to the AI provider (redacted), if anything."""

    id: str
    conversation_id: str
    seq: int
    role: MessageRole
    text: str
    sent: list[dict[str, Any]] | None
    provider: str | None
    plan_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanStepRecord:
    """One step of a plan and where it stands.

    ``decided_by`` / ``decided_at`` say who last approved, rejected or edited
    it, and when; ``approved_digest`` is the digest an approval named (None
    unless approved).
    """

    plan_id: str
    index: int
    kind: str
    body: dict[str, Any]
    digest: str
    status: PlanStepStatus
    approved_digest: str | None
    decided_by: str | None
    decided_at: datetime | None
    edited: bool
    run_id: str | None
    result: dict[str, Any] | None
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def started(self) -> bool:
        """The step has run, is running, or was refused: it can no longer be decided."""
        return self.status not in NOT_STARTED


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A proposed plan and its steps in order."""

    id: str
    conversation_id: str
    message_id: str
    request: str
    created_at: datetime
    steps: tuple[PlanStepRecord, ...]


def _conversation(row: AssistantConversationRow, message_count: int) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        title=row.title,
        created_at=row.created_at,
        updated_at=row.updated_at,
        message_count=message_count,
    )


def _message(row: AssistantMessageRow) -> MessageRecord:
    values = {name: getattr(row, name) for name in MessageRecord.__slots__}
    values["role"] = MessageRole(row.role)
    return MessageRecord(**values)


def _step(row: AssistantPlanStepRow) -> PlanStepRecord:
    return PlanStepRecord(
        plan_id=row.plan_id,
        index=row.idx,
        kind=row.kind,
        body=row.body,
        digest=row.digest,
        status=PlanStepStatus(row.status),
        approved_digest=row.approved_digest,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        edited=row.edited,
        run_id=row.run_id,
        result=row.result,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


def _plan(row: AssistantPlanRow, steps: Sequence[AssistantPlanStepRow]) -> PlanRecord:
    return PlanRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
        request=row.request,
        created_at=row.created_at,
        steps=tuple(_step(s) for s in steps),
    )


def _title(title: str) -> str:
    return title.strip()[:TITLE_MAX].strip() or DEFAULT_TITLE


def _already_started(status: PlanStepStatus) -> str:
    if status is PlanStepStatus.RUNNING:
        return "The step is running; it can no longer be changed."
    if status is PlanStepStatus.DENIED:
        return "The step was refused before it started; it can no longer be changed."
    return f"The step already ran ({status}); it can no longer be changed."


class ConversationRepository:
    """Persists assistant conversations, plans and step approvals; every method blocks."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    # -- conversations and messages ------------------------------------------------------

    def create_conversation(self, title: str) -> ConversationRecord:
        """A new, empty conversation (a blank title becomes "New conversation")."""
        now = self._clock()
        with self._db.write() as session:
            row = AssistantConversationRow(
                id=self._ids.new(), title=_title(title), created_at=now, updated_at=now
            )
            session.add(row)
            session.flush()
            return _conversation(row, 0)

    def add_message(
        self,
        conversation_id: str,
        role: str,
        text: str,
        *,
        sent: list[dict[str, Any]] | None = None,
        provider: str | None = None,
        plan_id: str | None = None,
    ) -> MessageRecord:
        """Append a message (``role`` is a :class:`MessageRole`); the conversation is now newest."""
        checked_role = MessageRole(role)
        now = self._clock()
        with self._db.write() as session:
            conversation = self._conversation_row(session, conversation_id)
            last = session.scalar(
                select(func.max(AssistantMessageRow.seq)).where(
                    AssistantMessageRow.conversation_id == conversation_id
                )
            )
            row = AssistantMessageRow(
                id=self._ids.new(),
                conversation_id=conversation_id,
                seq=(last or 0) + 1,
                role=checked_role,
                text=text,
                sent=sent,
                provider=provider,
                plan_id=plan_id,
                created_at=now,
            )
            session.add(row)
            conversation.updated_at = now
            session.flush()
            return _message(row)

    def conversations(self, limit: int = 50, offset: int = 0) -> list[ConversationRecord]:
        """Conversations, the most recently written to first, with their message counts."""
        count = (
            select(func.count())
            .where(AssistantMessageRow.conversation_id == AssistantConversationRow.id)
            .correlate(AssistantConversationRow)
            .scalar_subquery()
        )
        stmt = (
            select(AssistantConversationRow, count)
            .order_by(
                AssistantConversationRow.updated_at.desc(), AssistantConversationRow.id.desc()
            )
            .limit(max(1, min(limit, 500)))
            .offset(max(0, offset))
        )
        with self._db.read() as session:
            return [_conversation(row, n) for row, n in session.execute(stmt)]

    def conversation(self, conversation_id: str) -> ConversationRecord:
        """One conversation; NotFoundError if there is none."""
        with self._db.read() as session:
            row = self._conversation_row(session, conversation_id)
            count = session.scalar(
                select(func.count()).where(AssistantMessageRow.conversation_id == conversation_id)
            )
            return _conversation(row, count or 0)

    def messages(self, conversation_id: str, limit: int = 500) -> list[MessageRecord]:
        """The newest ``limit`` messages of a conversation, oldest first (in ``seq`` order)."""
        with self._db.read() as session:
            self._conversation_row(session, conversation_id)
            rows = session.scalars(
                select(AssistantMessageRow)
                .where(AssistantMessageRow.conversation_id == conversation_id)
                .order_by(AssistantMessageRow.seq.desc())
                .limit(max(1, limit))
            ).all()
            return [_message(r) for r in reversed(rows)]

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation with its messages, plans and steps."""
        with self._db.write() as session:
            result = session.execute(
                delete(AssistantConversationRow).where(
                    AssistantConversationRow.id == conversation_id
                )
            )
            if not getattr(result, "rowcount", 0):
                raise NotFoundError(f"There is no conversation with id {conversation_id!r}.")

    # -- plans ---------------------------------------------------------------------------

    def add_plan(
        self,
        conversation_id: str,
        message_id: str,
        request: str,
        steps: Sequence[tuple[str, dict[str, Any], str]],
    ) -> PlanRecord:
        """Store a plan answering ``message_id``; ``steps`` are (kind, body, digest), proposed."""
        now = self._clock()
        with self._db.write() as session:
            self._conversation_row(session, conversation_id)
            message = session.get(AssistantMessageRow, message_id)
            if message is None or message.conversation_id != conversation_id:
                raise NotFoundError(
                    f"There is no message with id {message_id!r} in conversation "
                    f"{conversation_id!r}."
                )
            plan = AssistantPlanRow(
                id=self._ids.new(),
                conversation_id=conversation_id,
                message_id=message_id,
                request=request,
                created_at=now,
            )
            session.add(plan)
            session.flush()  # the steps' foreign key needs the plan first
            rows = [
                AssistantPlanStepRow(
                    plan_id=plan.id,
                    idx=index,
                    kind=kind,
                    body=body,
                    digest=digest,
                    status=PlanStepStatus.PROPOSED,
                    edited=False,
                )
                for index, (kind, body, digest) in enumerate(steps)
            ]
            session.add_all(rows)
            message.plan_id = plan.id
            session.flush()
            return _plan(plan, rows)

    def plan(self, plan_id: str) -> PlanRecord:
        """One plan with its steps; NotFoundError if there is none."""
        with self._db.read() as session:
            row = session.get(AssistantPlanRow, plan_id)
            if row is None:
                raise NotFoundError(f"There is no plan with id {plan_id!r}.")
            return _plan(row, self._steps(session, [plan_id]).get(plan_id, []))

    def plans(self, conversation_id: str) -> list[PlanRecord]:
        """The plans of a conversation in the order they were made."""
        with self._db.read() as session:
            self._conversation_row(session, conversation_id)
            rows = session.scalars(
                select(AssistantPlanRow)
                .where(AssistantPlanRow.conversation_id == conversation_id)
                .order_by(AssistantPlanRow.id)
            ).all()
            steps = self._steps(session, [r.id for r in rows])
            return [_plan(r, steps.get(r.id, [])) for r in rows]

    # -- steps ---------------------------------------------------------------------------

    def decide_step(
        self, plan_id: str, index: int, *, approve: bool, by: str, digest: str | None
    ) -> PlanStepRecord:
        """Approve (naming the digest that was shown) or reject a step that has not started."""
        with self._db.write() as session:
            row = self._unstarted_step_row(session, plan_id, index)
            if approve:
                if digest is None or digest != row.digest:
                    raise ConflictError(CHANGED)
                row.status = PlanStepStatus.APPROVED
                row.approved_digest = digest
            else:
                row.status = PlanStepStatus.REJECTED
                row.approved_digest = None
            row.decided_by = by
            row.decided_at = self._clock()
            session.flush()
            return _step(row)

    def edit_step(
        self, plan_id: str, index: int, *, kind: str, body: dict[str, Any], digest: str, by: str
    ) -> PlanStepRecord:
        """Replace a step that has not started; any approval of the old content is gone."""
        with self._db.write() as session:
            row = self._unstarted_step_row(session, plan_id, index)
            row.kind = kind
            row.body = body
            row.digest = digest
            row.status = PlanStepStatus.PROPOSED
            row.approved_digest = None
            row.edited = True
            row.decided_by = by
            row.decided_at = self._clock()
            session.flush()
            return _step(row)

    def start_step(self, plan_id: str, index: int, *, digest: str, auto: bool) -> PlanStepRecord:
        """Mark a step ``running``: the only way there, checked in the same transaction.

        Allowed when the step is approved and both the approval and ``digest``
        (what the caller is about to run) name its current content; or, with
        ``auto`` (the caller's policy runs this kind without asking), when it
        is still proposed and ``digest`` is its current content. Anything
        else is a ConflictError saying why.
        """
        with self._db.write() as session:
            row = self._step_row(session, plan_id, index)
            status = PlanStepStatus(row.status)
            if status is PlanStepStatus.APPROVED:
                if row.approved_digest != row.digest:
                    raise ConflictError(
                        "The step changed since it was approved; approve it again to run it."
                    )
                if digest != row.digest:
                    raise ConflictError(
                        "The step to run is not the one that was approved; it was not started."
                    )
            elif status is PlanStepStatus.PROPOSED:
                if not auto:
                    raise ConflictError("The step is not approved; approve it to run it.")
                if digest != row.digest:
                    raise ConflictError(
                        "The step to run is not the one that was proposed; it was not started."
                    )
            elif status is PlanStepStatus.REJECTED:
                raise ConflictError("The step was rejected; it is not run.")
            else:
                raise ConflictError(_already_started(status))
            row.status = PlanStepStatus.RUNNING
            row.started_at = self._clock()
            session.flush()
            return _step(row)

    def set_step_run(self, plan_id: str, index: int, run_id: str) -> None:
        """Record the run (of the runner or the automations) that carries out a step."""
        with self._db.write() as session:
            self._step_row(session, plan_id, index).run_id = run_id

    def finish_step(
        self,
        plan_id: str,
        index: int,
        *,
        status: str,
        result: dict[str, Any] | None,
        run_id: str | None = None,
    ) -> PlanStepRecord:
        """End a running step (``succeeded``/``failed``/``denied``), or deny one not yet started."""
        end = PlanStepStatus(status)
        allowed_from = _FINISH_FROM.get(end)
        if allowed_from is None:
            raise ValueError(f"A step cannot end as {status!r}.")
        with self._db.write() as session:
            row = self._step_row(session, plan_id, index)
            current = PlanStepStatus(row.status)
            if current not in allowed_from:
                if current is PlanStepStatus.REJECTED:
                    raise ConflictError("The step was rejected; it never started.")
                if current in NOT_STARTED:
                    raise ConflictError("The step has not started, so it cannot have ended.")
                raise ConflictError(f"The step already ended ({current}).")
            row.status = end
            row.result = result
            if run_id is not None:
                row.run_id = run_id
            row.ended_at = self._clock()
            session.flush()
            return _step(row)

    def interrupt_running(self) -> int:
        """Steps a stop or crash left ``running`` become ``failed``; returns how many."""
        with self._db.write() as session:
            result = session.execute(
                update(AssistantPlanStepRow)
                .where(AssistantPlanStepRow.status == PlanStepStatus.RUNNING)
                .values(
                    status=PlanStepStatus.FAILED,
                    result=dict(INTERRUPTED_RESULT),
                    ended_at=self._clock(),
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _conversation_row(session: Session, conversation_id: str) -> AssistantConversationRow:
        row = session.get(AssistantConversationRow, conversation_id)
        if row is None:
            raise NotFoundError(f"There is no conversation with id {conversation_id!r}.")
        return row

    @staticmethod
    def _step_row(session: Session, plan_id: str, index: int) -> AssistantPlanStepRow:
        row = session.get(AssistantPlanStepRow, (plan_id, index))
        if row is None:
            raise NotFoundError(f"Plan {plan_id!r} has no step {index}.")
        return row

    @classmethod
    def _unstarted_step_row(
        cls, session: Session, plan_id: str, index: int
    ) -> AssistantPlanStepRow:
        """The step, which must not have started (only then can it be decided or edited)."""
        row = cls._step_row(session, plan_id, index)
        status = PlanStepStatus(row.status)
        if status not in NOT_STARTED:
            raise ConflictError(_already_started(status))
        return row

    @staticmethod
    def _steps(session: Session, plan_ids: Sequence[str]) -> dict[str, list[AssistantPlanStepRow]]:
        steps: dict[str, list[AssistantPlanStepRow]] = {}
        if not plan_ids:
            return steps
        rows = session.scalars(
            select(AssistantPlanStepRow)
            .where(AssistantPlanStepRow.plan_id.in_(plan_ids))
            .order_by(AssistantPlanStepRow.plan_id, AssistantPlanStepRow.idx)
        )
        for row in rows:
            steps.setdefault(row.plan_id, []).append(row)
        return steps
