"""The conflict inbox: versions that lost to another device's, to look at, restore or dismiss.

The sync engine files them (store/replica.py): a local change that a newer
version from another device overwrote (``lost``), or a pulled version this
device could not store (``rejected``). Each stays open until a person
decides:

- **restore** makes the kept version the current one again, as a new local
  change: it is stamped now by the device's clock (which has seen the
  winner's stamp, so the restored version is the newer one), goes to the
  outbox in the same transaction, and wins at the next push. A task is
  restored here, row, outbox entry and resolution in one transaction; an
  automation is restored by the automation service (which re-arms its
  triggers), and then marked resolved with :meth:`ConflictInbox.mark_resolved`.
- **dismiss** keeps the winner and only marks the conflict resolved.

Resolved conflicts stay in the table (``resolved_at`` set) and are listed
on request; only open ones count in the sync status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atom_desktop.core.events import EventBus, TaskChanged
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.models import (
    TASK_STATUSES,
    AutomationRow,
    SyncConflictRow,
    SyncStateRow,
    SyncVersionRow,
    TaskRow,
)
from atom_desktop.store.outbox import record_change
from atom_desktop.store.replica import LOST, REJECTED
from atom_desktop.store.task_types import Task

MAX_PAGE = 500


class ConflictResolvedError(ConflictError):
    """The conflict was already restored or dismissed."""


class NotRestorableError(ConflictError):
    """The kept version cannot be made the current one here (the message says why)."""


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """A synced row as this device holds it now: the winner, or what came after it."""

    exists: bool
    #: A task's title or an automation's name (None when the row is gone).
    title: str | None
    #: A task's status; ``enabled`` or ``disabled`` for an automation.
    status: str | None
    updated_at: datetime | None
    #: The row's sync version here (None for a row sync never versioned).
    hlc: int | None
    device_id: str | None


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A version in the inbox, what it lost to, and the row as it is now."""

    id: int
    entity: str
    entity_id: str
    #: ``delete`` when the kept version is a deletion; otherwise an upsert of ``payload``.
    op: str
    #: The kept version as the engine filed it: a lost change's outbox payload
    #: (an automation's with this device's secrets); for a rejected one
    #: ``{"data": ..., "device_id": ..., "why": ...}``.
    payload: dict[str, Any]
    hlc: int
    #: The device that made the kept version.
    device_id: str
    winner_hlc: int
    winner_device_id: str
    reason: str
    detected_at: datetime
    resolved_at: datetime | None
    current: CurrentRow

    @property
    def deleted(self) -> bool:
        """Whether the kept version is a deletion."""
        return self.op == "delete"


class ConflictInbox:
    """Reads and resolves the conflict inbox. Blocking: call it from a worker thread."""

    def __init__(
        self,
        db: Database,
        bus: EventBus | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock

    # -- reads --------------------------------------------------------------------

    def page(
        self, *, include_resolved: bool = False, limit: int = 50, before: int | None = None
    ) -> list[ConflictRecord]:
        """Open conflicts (and resolved ones too if asked), newest first, before id ``before``."""
        stmt = select(SyncConflictRow).order_by(SyncConflictRow.id.desc())
        if not include_resolved:
            stmt = stmt.where(SyncConflictRow.resolved_at.is_(None))
        if before is not None:
            stmt = stmt.where(SyncConflictRow.id < before)
        with self._db.read() as session:
            rows = list(session.scalars(stmt.limit(max(1, min(limit, MAX_PAGE)))))
            return _records(session, rows)

    def get(self, conflict_id: int) -> ConflictRecord:
        """One conflict, open or resolved; NotFoundError if there is none."""
        with self._db.read() as session:
            return _records(session, [_row(session, conflict_id)])[0]

    # -- resolving ----------------------------------------------------------------

    def dismiss(self, conflict_id: int) -> ConflictRecord:
        """Keep the winner: mark an open conflict resolved, change nothing else."""
        with self._db.write() as session:
            row = _open_row(session, conflict_id)
            row.resolved_at = self._clock()
            session.flush()
            return _records(session, [row])[0]

    def restore_task(self, conflict_id: int) -> tuple[ConflictRecord, str | None]:
        """Make a task's kept version current again as a new local change, and resolve it.

        One transaction: the task, its outbox entry (stamped now) and the
        resolution. Returns the resolved record and what happened to the
        task (``created``, ``updated``, ``deleted``; None when a restored
        deletion found the task gone already).
        """
        now = self._clock()
        with self._db.write() as session:
            row = _open_row(session, conflict_id)
            check_restorable(_records(session, [row])[0])
            if row.entity != "task":
                raise NotRestorableError(
                    f"Conflict {conflict_id} is about an automation: it is restored by the "
                    "automation service, which re-arms its triggers."
                )
            op = _restore_task(self._db, session, row, now)
            row.resolved_at = now
            session.flush()
            record = _records(session, [row])[0]
        if op is not None and self._bus is not None:
            # As the task repository does: the window refreshes, sync pushes soon.
            self._bus.publish(TaskChanged(task_id=record.entity_id, op=op))
        return record, op

    def mark_resolved(self, conflict_id: int) -> ConflictRecord:
        """Mark a conflict resolved after its version was restored elsewhere (an automation's).

        A conflict resolved meanwhile keeps its first resolution time.
        """
        with self._db.write() as session:
            row = _row(session, conflict_id)
            if row.resolved_at is None:
                row.resolved_at = self._clock()
                session.flush()
            return _records(session, [row])[0]


def check_restorable(record: ConflictRecord) -> None:
    """Raise NotRestorableError when ``record``'s version cannot be made current here."""
    if record.resolved_at is not None:
        raise ConflictResolvedError(
            f"Conflict {record.id} was already resolved at {record.resolved_at.isoformat()}."
        )
    if record.reason == REJECTED:
        why = record.payload.get("why", "it could not be read")
        raise NotRestorableError(
            f"Conflict {record.id} holds another device's version of {record.entity} "
            f"{record.entity_id} that this device could not store ({why}); it cannot be "
            "restored here. Dismiss it, or change the row on the device that made it."
        )
    if record.entity not in ("task", "automation"):
        raise NotRestorableError(
            f"Conflict {record.id} is about a {record.entity}, which syncs one way only "
            "(from the device that made it); there is no version to restore. Dismiss it."
        )


# -- helpers ------------------------------------------------------------------------


def _row(session: Session, conflict_id: int) -> SyncConflictRow:
    row = session.get(SyncConflictRow, conflict_id)
    if row is None:
        raise NotFoundError(f"There is no sync conflict with id {conflict_id}.")
    return row


def _open_row(session: Session, conflict_id: int) -> SyncConflictRow:
    row = _row(session, conflict_id)
    if row.resolved_at is not None:
        raise ConflictResolvedError(
            f"Conflict {conflict_id} was already resolved at {row.resolved_at.isoformat()}."
        )
    return row


def _records(session: Session, rows: Sequence[SyncConflictRow]) -> list[ConflictRecord]:
    """``rows`` with each one's kept device and current row, read in a few queries."""
    own_device = session.scalar(select(SyncStateRow.device_id)) or ""
    current = _current_rows(session, {(r.entity, r.entity_id) for r in rows})
    records = []
    for row in rows:
        device = own_device
        if row.reason == REJECTED:
            device = str(row.payload.get("device_id", row.winner_device_id))
        records.append(
            ConflictRecord(
                id=row.id,
                entity=row.entity,
                entity_id=row.entity_id,
                op=row.op,
                payload=row.payload,
                hlc=row.hlc,
                device_id=device,
                winner_hlc=row.winner_hlc,
                winner_device_id=row.winner_device_id,
                reason=row.reason,
                detected_at=row.detected_at,
                resolved_at=row.resolved_at,
                current=current.get((row.entity, row.entity_id), _GONE),
            )
        )
    return records


_GONE = CurrentRow(False, None, None, None, None, None)


def _current_rows(
    session: Session, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], CurrentRow]:
    """The current row of each ``(entity, id)`` in ``keys`` (at most a page: one query each)."""
    ids = {entity: [i for e, i in keys if e == entity] for entity in {e for e, _ in keys}}
    found: dict[tuple[str, str], tuple[str, str, datetime]] = {}
    tasks = select(TaskRow.id, TaskRow.title, TaskRow.status, TaskRow.updated_at)
    for task_id, title, status, updated in session.execute(
        tasks.where(TaskRow.id.in_(ids.get("task", [])))
    ):
        found[("task", task_id)] = (title, status, updated)
    automations = select(
        AutomationRow.id, AutomationRow.name, AutomationRow.enabled, AutomationRow.updated_at
    )
    for automation_id, name, enabled, updated in session.execute(
        automations.where(AutomationRow.id.in_(ids.get("automation", [])))
    ):
        found[("automation", automation_id)] = (name, "enabled" if enabled else "disabled", updated)
    versions = {
        (v.entity, v.entity_id): (v.hlc, v.device_id)
        for entity, entity_ids in ids.items()
        for v in session.scalars(
            select(SyncVersionRow).where(
                SyncVersionRow.entity == entity, SyncVersionRow.entity_id.in_(entity_ids)
            )
        )
    }
    result = {}
    for key in keys:
        hlc, device = versions.get(key, (None, None))
        row = found.get(key)
        if row is None:
            result[key] = CurrentRow(False, None, None, None, hlc, device)
        else:
            result[key] = CurrentRow(True, *row, hlc, device)
    return result


def _restore_task(
    db: Database, session: Session, row: SyncConflictRow, now: datetime
) -> str | None:
    """Write a task's kept version as a new local change; the op it amounts to."""
    task = session.get(TaskRow, row.entity_id)
    if row.op == "delete":
        if task is None:
            return None  # gone here already: nothing to delete, nothing to send
        session.delete(task)
        session.flush()
        record_change(
            db,
            session,
            entity="task",
            entity_id=row.entity_id,
            op="delete",
            payload={"id": row.entity_id},
            at=now,
        )
        return "deleted"
    values = _task_values(row)
    if task is None:
        # Deleted by the winner: the task comes back under its own id (the
        # server takes a newer version over a tombstone).
        _no_clash(session, row, values)
        task = TaskRow(
            id=row.entity_id,
            source=values["source"],
            external_id=values["external_id"],
            created_at=values["created_at"] or now,
            updated_at=now,
        )
        session.add(task)
        op = "created"
    else:
        # Where a task came from never changes; the rest is the kept version's.
        task.updated_at = max(now, task.updated_at)
        op = "updated"
    for name in ("title", "notes", "status", "priority", "due_at", "tags"):
        setattr(task, name, values[name])
    session.flush()
    restored = Task(
        **{name: getattr(task, name) for name in Task.__slots__ if name != "tags"},
        tags=tuple(task.tags),
    )
    record_change(
        db,
        session,
        entity="task",
        entity_id=task.id,
        op="upsert",
        payload=restored.to_json(),
        at=task.updated_at,
    )
    return op


def _no_clash(session: Session, row: SyncConflictRow, values: dict[str, Any]) -> None:
    if values["external_id"] is None:
        return
    clash = session.scalar(
        select(TaskRow.id)
        .where(
            TaskRow.source == values["source"],
            TaskRow.external_id == values["external_id"],
            TaskRow.id != row.entity_id,
        )
        .limit(1)
    )
    if clash is not None:
        raise NotRestorableError(
            f"Task {row.entity_id} was deleted, and task {clash} here now has its source "
            f"{values['source']!r} and external id {values['external_id']!r}: restoring it "
            "would make a duplicate. Dismiss the conflict, or delete task "
            f"{clash} first."
        )


def _task_values(row: SyncConflictRow) -> dict[str, Any]:
    """The kept task's fields, checked as the table checks them."""
    data = row.payload
    unreadable = NotRestorableError(
        f"Conflict {row.id} holds a version of task {row.entity_id} that cannot be read "
        "(it was not written by this version of ATOM Desktop). Dismiss it."
    )
    title, notes, status = data.get("title"), data.get("notes", ""), data.get("status")
    priority, tags = data.get("priority", 0), data.get("tags", [])
    source, external_id = data.get("source", "local"), data.get("external_id")
    if not isinstance(title, str) or not isinstance(notes, str) or status not in TASK_STATUSES:
        raise unreadable
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 3:
        raise unreadable
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise unreadable
    if not isinstance(source, str) or not (external_id is None or isinstance(external_id, str)):
        raise unreadable
    try:
        due_at = _time(data.get("due_at"))
        created_at = _time(data.get("created_at"))
    except (TypeError, ValueError):
        raise unreadable from None
    return {
        "title": title,
        "notes": notes,
        "status": status,
        "priority": priority,
        "due_at": due_at,
        "tags": tags,
        "source": source,
        "external_id": external_id,
        "created_at": created_at,
    }


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(value)
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


__all__ = [
    "LOST",
    "REJECTED",
    "ConflictInbox",
    "ConflictRecord",
    "ConflictResolvedError",
    "CurrentRow",
    "NotRestorableError",
    "check_restorable",
]
