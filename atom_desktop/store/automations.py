"""Automations and their missed fire times.

The store is the source of truth for the scheduler: jobs are rebuilt from
these rows at every start, and ``checked_at`` says up to when every scheduled
time has been run or recorded as missed. Changes to an automation reach the
sync outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.models import AutomationMissedRow, AutomationRow
from atom_desktop.store.outbox import record_change

ENTITY = "automation"


@dataclass(frozen=True, slots=True)
class AutomationRecord:
    """A stored automation (``spec`` is the validated JSON)."""

    id: str
    name: str
    enabled: bool
    spec: dict[str, Any]
    anchor_at: datetime
    checked_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MissedTime:
    """A scheduled time that did not fire on time: why, and whether it still ran."""

    id: int
    automation_id: str
    scheduled_at: datetime
    recorded_at: datetime
    reason: str
    action: str


def _record(row: AutomationRow) -> AutomationRecord:
    return AutomationRecord(**{name: getattr(row, name) for name in AutomationRecord.__slots__})


def automation_payload(row: AutomationRow) -> dict[str, Any]:
    """What sync carries of an automation (the push leaves its secrets out)."""
    return {"name": row.name, "enabled": row.enabled, "spec": row.spec}


def _outbox(db: Database, session: Session, row: AutomationRow, op: str, at: datetime) -> None:
    """The change of ``row`` for sync, in the same transaction."""
    session.flush()
    record_change(
        db,
        session,
        entity=ENTITY,
        entity_id=row.id,
        op=op,
        payload=automation_payload(row),
        at=at,
    )


class AutomationRepository:
    """Persists automations (with outbox entries) and their missed times."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._clock = clock

    def create(self, spec: dict[str, Any]) -> AutomationRecord:
        """Store a new automation; its schedule counts from now."""
        now = self._clock()
        with self._db.write() as session:
            row = AutomationRow(
                id=self._ids.new(),
                name=spec["name"],
                enabled=bool(spec.get("enabled", True)),
                spec=spec,
                anchor_at=now,
                checked_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            _outbox(self._db, session, row, "create", now)
            return _record(row)

    def replace(self, automation_id: str, spec: dict[str, Any]) -> AutomationRecord:
        """Replace an automation's spec; its schedule starts afresh from now."""
        now = self._clock()
        with self._db.write() as session:
            row = self._row(session, automation_id)
            row.name = spec["name"]
            row.enabled = bool(spec.get("enabled", True))
            row.spec = spec
            row.anchor_at = now
            row.checked_at = now
            row.updated_at = now
            _outbox(self._db, session, row, "update", now)
            return _record(row)

    def set_enabled(self, automation_id: str, *, enabled: bool) -> AutomationRecord:
        """Enable or disable; enabling counts the schedule from now (nothing is "missed")."""
        now = self._clock()
        with self._db.write() as session:
            row = self._row(session, automation_id)
            if row.enabled != enabled:
                row.enabled = enabled
                row.spec = {**row.spec, "enabled": enabled}
                row.updated_at = now
                if enabled:
                    row.checked_at = now
                _outbox(self._db, session, row, "update", now)
            return _record(row)

    def delete(self, automation_id: str) -> None:
        """Delete an automation with its history (runner runs and their output stay)."""
        now = self._clock()
        with self._db.write() as session:
            row = self._row(session, automation_id)
            session.delete(row)
            record_change(
                self._db,
                session,
                entity=ENTITY,
                entity_id=automation_id,
                op="delete",
                payload={},
                at=now,
            )

    def get(self, automation_id: str) -> AutomationRecord:
        """One automation; NotFoundError if there is none."""
        with self._db.read() as session:
            return _record(self._row(session, automation_id))

    def all(self) -> list[AutomationRecord]:
        """Every automation, oldest first."""
        with self._db.read() as session:
            return [_record(r) for r in session.scalars(select(AutomationRow).order_by("id"))]

    def count(self) -> int:
        """How many automations are stored."""
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(AutomationRow)) or 0

    def set_checked(self, automation_id: str, at: datetime) -> None:
        """Every scheduled time up to ``at`` has been run or recorded."""
        with self._db.write() as session:
            session.execute(
                update(AutomationRow).where(AutomationRow.id == automation_id).values(checked_at=at)
            )

    def record_missed(
        self,
        automation_id: str,
        times: Sequence[datetime],
        *,
        reason: str,
        action: str,
        checked_at: datetime | None = None,
    ) -> None:
        """Record missed times (and move ``checked_at``) in one transaction."""
        now = self._clock()
        with self._db.write() as session:
            if times:
                session.execute(
                    insert(AutomationMissedRow),
                    [
                        {
                            "automation_id": automation_id,
                            "scheduled_at": t,
                            "recorded_at": now,
                            "reason": reason,
                            "action": action,
                        }
                        for t in times
                    ],
                )
            if checked_at is not None:
                # Only forwards: two wake-ups that overlap may finish out of order.
                session.execute(
                    update(AutomationRow)
                    .where(
                        AutomationRow.id == automation_id,
                        (AutomationRow.checked_at.is_(None))
                        | (AutomationRow.checked_at < checked_at),
                    )
                    .values(checked_at=checked_at)
                )

    def missed(self, automation_id: str, *, limit: int = 100) -> list[MissedTime]:
        """The newest missed times of one automation, newest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(AutomationMissedRow)
                .where(AutomationMissedRow.automation_id == automation_id)
                .order_by(AutomationMissedRow.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return [
                MissedTime(r.id, r.automation_id, r.scheduled_at, r.recorded_at, r.reason, r.action)
                for r in rows
            ]

    def prune_missed(self, older_than: datetime) -> int:
        """Forget missed times recorded before ``older_than``; returns how many."""
        with self._db.write() as session:
            result = session.execute(
                delete(AutomationMissedRow).where(AutomationMissedRow.recorded_at < older_than)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    def _row(session: Session, automation_id: str) -> AutomationRow:
        row: AutomationRow | None = session.get(AutomationRow, automation_id)
        if row is None:
            raise NotFoundError(f"There is no automation with id {automation_id!r}.")
        return row
