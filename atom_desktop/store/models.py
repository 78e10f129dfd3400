"""SQLAlchemy models of the local database.

Migrations (``store/migrations``) own the schema; these classes describe the
same tables for queries and must match them (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.sqlite import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from atom_desktop.core.statuses import AutomationRunStatus, RunStatus, sql_in

TASK_STATUSES = ("todo", "doing", "done", "cancelled")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; naive ones are refused."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store as naive UTC (SQLite has no time zones)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware (UTC) datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Give back an aware UTC datetime."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime()}  # noqa: RUF012


class TaskRow(Base):
    """A unified task, local or imported from a service."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('todo', 'doing', 'done', 'cancelled')", name="ck_tasks_status"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="ck_tasks_priority"),
        Index("ix_tasks_status_id", "status", "id"),
        Index("ix_tasks_priority_id", "priority", "id"),
        Index("ix_tasks_due_at", "due_at"),
        Index("ix_tasks_updated_at_id", "updated_at", "id"),
        # SQLite treats NULLs as distinct, so local tasks (no external id) never clash.
        Index("ux_tasks_source_external_id", "source", "external_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="todo")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(64), default="local")
    external_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """A local change waiting to be pushed to the sync server."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_entity", "entity", "entity_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36))
    op: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    # The change's hybrid logical clock stamp (core/hlc.py), taken in its transaction.
    hlc: Mapped[int] = mapped_column(BigInteger, server_default="0")


class SyncStateRow(Base):
    """This device's sync identity and progress: one row, made by the migration."""

    __tablename__ = "sync_state"
    __table_args__ = (CheckConstraint("id = 1", name="ck_sync_state_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36))
    # The last server change_id applied here.
    pull_cursor: Mapped[int] = mapped_column(BigInteger)
    # The clock's latest stamp, so a restart never goes back.
    hlc: Mapped[int] = mapped_column(BigInteger)


class SyncVersionRow(Base):
    """The version (stamp, origin device) of a synced row held here; kept after a delete."""

    __tablename__ = "sync_versions"

    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hlc: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(36))
    deleted: Mapped[bool] = mapped_column(Boolean)


class SyncConflictRow(Base):
    """A local change that lost to a newer version of its row from another device."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_resolved_at", "resolved_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(36))
    # The losing change as the outbox held it: its operation, payload and stamp.
    op: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    hlc: Mapped[int] = mapped_column(BigInteger)
    winner_hlc: Mapped[int] = mapped_column(BigInteger)
    winner_device_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(32))
    detected_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class ApiTokenRow(Base):
    """An API token: only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("kind IN ('owner', 'named')", name="ck_api_tokens_kind"),
        Index("ux_api_tokens_token_hash", "token_hash", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AuditRow(Base):
    """One change (an API request or an action in the window) and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(16), server_default="api")
    token_name: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(32))


class RunRow(Base):
    """One run of a command: what, who, how it ended, how much it printed."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(sql_in("status", RunStatus), name="ck_runs_status"),
        Index("ix_runs_status_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    requester: Mapped[str | None] = mapped_column(String(64))
    argv: Mapped[list[str] | None] = mapped_column(JSON)
    shell: Mapped[str | None] = mapped_column(Text)
    cwd: Mapped[str] = mapped_column(Text)
    env_names: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    timeout_s: Mapped[float | None] = mapped_column(Float)
    idle_timeout_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    stdout_bytes: Mapped[int] = mapped_column(Integer, default=0)
    stderr_bytes: Mapped[int] = mapped_column(Integer, default=0)
    dropped_bytes: Mapped[int] = mapped_column(Integer, default=0)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    peak_rss: Mapped[int | None] = mapped_column(Integer)
    cpu_s: Mapped[float | None] = mapped_column(Float)


class RunChunkRow(Base):
    """A chunk of a run's output, stored exactly as the child wrote it."""

    __tablename__ = "run_chunks"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RunProcessRow(Base):
    """A process a run was seen to own (pid and start time), kept while the run is going.

    What is left here at a start belongs to runs that a crash interrupted;
    the pid together with its start time says whether a running process is
    still that one, so a reused pid is never taken for it.
    """

    __tablename__ = "run_processes"

    run_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    pid: Mapped[int] = mapped_column(Integer, primary_key=True)
    started: Mapped[float] = mapped_column(Float, primary_key=True)


class AutomationRow(Base):
    """An automation: its validated spec, and where its schedule bookkeeping stands."""

    __tablename__ = "automations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    enabled: Mapped[bool] = mapped_column(Boolean)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Intervals without a start count from here, so a restart keeps their phase.
    anchor_at: Mapped[datetime]
    # Every scheduled time up to here has been run or recorded as missed.
    checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AutomationRunRow(Base):
    """One run of an automation: why it started, each step's result, how it ended."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        CheckConstraint(sql_in("status", AutomationRunStatus), name="ck_automation_runs_status"),
        Index("ix_automation_runs_automation_id", "automation_id", "id"),
        Index("ix_automation_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    automation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("automations.id", ondelete="CASCADE")
    )
    trigger_kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class AutomationMissedRow(Base):
    """A scheduled time that did not fire on time, and what was done about it."""

    __tablename__ = "automation_missed"
    __table_args__ = (Index("ix_automation_missed_automation_id", "automation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    automation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("automations.id", ondelete="CASCADE")
    )
    scheduled_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))


class ApprovalRow(Base):
    """A shell step waiting for (or given) a person's decision."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'expired')", name="ck_approvals_status"
        ),
        Index("ix_approvals_status", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    automation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("automations.id", ondelete="CASCADE")
    )
    automation_run_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))


INTEGRATION_STATUSES = ("pending", "connected", "reconnect_needed", "error")
TOKEN_STORAGES = ("keyring", "database")


class IntegrationAccountRow(Base):
    """A connected account of a service; its tokens are in the keyring (or ``secret``)."""

    __tablename__ = "integration_accounts"
    __table_args__ = (
        CheckConstraint(
            f"status IN {INTEGRATION_STATUSES!r}", name="ck_integration_accounts_status"
        ),
        CheckConstraint(
            f"token_storage IN {TOKEN_STORAGES!r}", name="ck_integration_accounts_token_storage"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[dict[str, str]] = mapped_column(JSON)
    client_id: Mapped[str | None] = mapped_column(String(500))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(24))
    token_storage: Mapped[str] = mapped_column(String(16))
    # Which keyring entries hold the tokens: a new generation is written in
    # full before the row points at it, so a crash never loses both.
    secret_generation: Mapped[int] = mapped_column(Integer)
    secret: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IntegrationRevocationRow(Base):
    """A token the provider has not yet confirmed revoked (its account is gone)."""

    __tablename__ = "integration_revocations"
    __table_args__ = (Index("ix_integration_revocations_next_attempt_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(200))
    revoke_url: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str | None] = mapped_column(String(500))
    token_storage: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class MessageRole(StrEnum):
    """Who wrote a message of an assistant conversation."""

    USER = "user"
    ASSISTANT = "assistant"
    ERROR = "error"  # the request failed; the text says why


class PlanStepStatus(StrEnum):
    """A proposed step of an assistant's plan: decided by a person, then run (or refused)."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"  # refused before it started (e.g. by the deny list)


class AssistantConversationRow(Base):
    """A conversation with the assistant (kept on this device only, never synced)."""

    __tablename__ = "assistant_conversations"
    __table_args__ = (Index("ix_assistant_conversations_updated_at", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AssistantMessageRow(Base):
    """One message of a conversation, numbered 1.. within it."""

    __tablename__ = "assistant_messages"
    __table_args__ = (
        CheckConstraint(sql_in("role", MessageRole), name="ck_assistant_messages_role"),
        Index("ux_assistant_messages_conversation_id_seq", "conversation_id", "seq", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("assistant_conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # What was sent to the AI provider for this request, redacted by the caller.
    sent: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    provider: Mapped[str | None] = mapped_column(String(200))
    plan_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]


class AssistantPlanRow(Base):
    """The plan proposed in answer to one message."""

    __tablename__ = "assistant_plans"
    __table_args__ = (Index("ix_assistant_plans_conversation_id", "conversation_id", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("assistant_conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(36))
    request: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AssistantPlanStepRow(Base):
    """One step of a plan, the digest of what was shown, and its approval and run."""

    __tablename__ = "assistant_plan_steps"
    __table_args__ = (
        CheckConstraint(sql_in("status", PlanStepStatus), name="ck_assistant_plan_steps_status"),
        # An approval always names the step's current content, and an approved
        # step always has one: the database refuses anything else.
        CheckConstraint(
            "approved_digest IS NULL OR approved_digest = digest",
            name="ck_assistant_plan_steps_approved_digest",
        ),
        CheckConstraint(
            "status <> 'approved' OR approved_digest IS NOT NULL",
            name="ck_assistant_plan_steps_approved",
        ),
    )

    plan_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("assistant_plans.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    approved_digest: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    run_id: Mapped[str | None] = mapped_column(String(36))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
