"""Automation runs (the history) and approvals of shell steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from atom_desktop.core.ids import IdFactory
from atom_desktop.core.statuses import AUTOMATION_RUN_ENDED, AutomationRunStatus
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.models import ApprovalRow, AutomationRunRow


@dataclass(frozen=True, slots=True)
class AutomationRunRecord:
    """One stored automation run."""

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

    @property
    def ended(self) -> bool:
        """The run is over, one way or another."""
        return self.status in AUTOMATION_RUN_ENDED


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A shell step's approval and its state."""

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


def _run(row: AutomationRunRow) -> AutomationRunRecord:
    values = {name: getattr(row, name) for name in AutomationRunRecord.__slots__}
    values["status"] = AutomationRunStatus(row.status)
    return AutomationRunRecord(**values)


def _approval(row: ApprovalRow) -> ApprovalRecord:
    return ApprovalRecord(**{name: getattr(row, name) for name in ApprovalRecord.__slots__})


class AutomationRunRepository:
    """Persists automation runs and approvals; the automation service is the only writer."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    # -- runs -----------------------------------------------------------------------

    def create(
        self,
        automation_id: str,
        *,
        trigger_kind: str,
        trigger: dict[str, Any],
        status: AutomationRunStatus = AutomationRunStatus.QUEUED,
        error: str | None = None,
    ) -> AutomationRunRecord:
        """Store a new run (``skipped`` ones are ended at once)."""
        now = self._clock()
        with self._db.write() as session:
            row = AutomationRunRow(
                id=self._ids.new(),
                automation_id=automation_id,
                trigger_kind=trigger_kind,
                trigger=trigger,
                status=status,
                steps=[],
                error=error,
                created_at=now,
                ended_at=now if status in AUTOMATION_RUN_ENDED else None,
            )
            session.add(row)
            session.flush()
            return _run(row)

    def update(self, run_id: str, **fields: Any) -> None:
        """Change fields of a run."""
        with self._db.write() as session:
            session.execute(
                update(AutomationRunRow).where(AutomationRunRow.id == run_id).values(**fields)
            )

    def get(self, run_id: str) -> AutomationRunRecord:
        """One run; NotFoundError if there is none."""
        with self._db.read() as session:
            row = session.get(AutomationRunRow, run_id)
            if row is None:
                raise NotFoundError(f"There is no automation run with id {run_id!r}.")
            return _run(row)

    def page(
        self,
        automation_id: str | None = None,
        *,
        status: Sequence[AutomationRunStatus] | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[AutomationRunRecord]:
        """Runs newest first; pass the last id seen as ``before`` for the next page."""
        stmt = (
            select(AutomationRunRow)
            .order_by(AutomationRunRow.id.desc())
            .limit(max(1, min(limit, 500)))
        )
        if automation_id is not None:
            stmt = stmt.where(AutomationRunRow.automation_id == automation_id)
        if status:
            stmt = stmt.where(AutomationRunRow.status.in_(status))
        if before is not None:
            stmt = stmt.where(AutomationRunRow.id < before)
        with self._db.read() as session:
            return [_run(r) for r in session.scalars(stmt)]

    def latest(self) -> dict[str, AutomationRunRecord]:
        """The newest run of each automation."""
        newest = (
            select(func.max(AutomationRunRow.id))
            .group_by(AutomationRunRow.automation_id)
            .scalar_subquery()
        )
        with self._db.read() as session:
            rows = session.scalars(select(AutomationRunRow).where(AutomationRunRow.id.in_(newest)))
            return {r.automation_id: _run(r) for r in rows}

    def mark_interrupted(self) -> int:
        """Runs a stop or crash left unfinished become ``interrupted``; returns how many."""
        with self._db.write() as session:
            result = session.execute(
                update(AutomationRunRow)
                .where(AutomationRunRow.status.not_in(AUTOMATION_RUN_ENDED))
                .values(
                    status=AutomationRunStatus.INTERRUPTED,
                    ended_at=self._clock(),
                    error="The agent stopped before the run ended.",
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def prune(self, *, older_than: datetime, keep: int) -> int:
        """Delete ended runs older than ``older_than`` and beyond the newest ``keep``."""
        with self._db.write() as session:
            cutoff_id = session.scalar(
                select(AutomationRunRow.id)
                .order_by(AutomationRunRow.id.desc())
                .offset(max(0, keep - 1))
                .limit(1)
            )
            too_old = AutomationRunRow.created_at < older_than
            condition = (
                too_old if cutoff_id is None else (too_old | (AutomationRunRow.id < cutoff_id))
            )
            result = session.execute(
                delete(AutomationRunRow).where(
                    AutomationRunRow.status.in_(AUTOMATION_RUN_ENDED), condition
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def count(self, automation_id: str | None = None) -> int:
        """How many runs are stored (of one automation, or in all)."""
        stmt = select(func.count()).select_from(AutomationRunRow)
        if automation_id is not None:
            stmt = stmt.where(AutomationRunRow.automation_id == automation_id)
        with self._db.read() as session:
            return session.scalar(stmt) or 0

    # -- approvals ----------------------------------------------------------------------

    def request_approval(
        self, automation_id: str, run_id: str, step: int, command: str, expires_at: datetime
    ) -> ApprovalRecord:
        """A pending approval of step ``step`` of run ``run_id``."""
        with self._db.write() as session:
            row = ApprovalRow(
                id=self._ids.new(),
                automation_id=automation_id,
                automation_run_id=run_id,
                step=step,
                command=command,
                status="pending",
                created_at=self._clock(),
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return _approval(row)

    def decide(self, approval_id: str, status: str, by: str | None) -> ApprovalRecord:
        """Approve, deny or expire a pending approval (a decided one is a conflict)."""
        with self._db.write() as session:
            row = session.get(ApprovalRow, approval_id)
            if row is None:
                raise NotFoundError(f"There is no approval with id {approval_id!r}.")
            if row.status != "pending":
                raise ConflictError(f"The approval was already {row.status}.")
            row.status = status
            row.decided_at = self._clock()
            row.decided_by = by
            session.flush()
            return _approval(row)

    def approval(self, approval_id: str) -> ApprovalRecord:
        """One approval; NotFoundError if there is none."""
        with self._db.read() as session:
            row = session.get(ApprovalRow, approval_id)
            if row is None:
                raise NotFoundError(f"There is no approval with id {approval_id!r}.")
            return _approval(row)

    def approvals(self, *, status: str | None = None, limit: int = 100) -> list[ApprovalRecord]:
        """Approvals newest first (only those in ``status`` when given)."""
        stmt = select(ApprovalRow).order_by(ApprovalRow.id.desc()).limit(max(1, min(limit, 500)))
        if status is not None:
            stmt = stmt.where(ApprovalRow.status == status)
        with self._db.read() as session:
            return [_approval(r) for r in session.scalars(stmt)]

    def expire_pending(self) -> int:
        """Pending approvals whose run is gone (the agent stopped) expire; returns how many."""
        with self._db.write() as session:
            result = session.execute(
                update(ApprovalRow)
                .where(ApprovalRow.status == "pending")
                .values(status="expired", decided_at=self._clock(), decided_by="agent restart")
            )
            return int(getattr(result, "rowcount", 0) or 0)
