"""The device's side of sync: pending changes, pulled changes, the conflict inbox.

The sync engine talks to the server; everything it reads or writes here is
one local transaction each:

- :meth:`SyncReplica.acknowledge` removes pushed outbox entries after the
  server has committed them, and files the local changes the server refused
  as older than another device's version.
- :meth:`SyncReplica.apply` writes a page of pulled rows together with the
  new pull cursor, without any outbox entry (a pulled change is never pushed
  back), by the same rule the server applies: the version with the greater
  ``(hlc, device_id)`` wins. A pending local change that loses goes to the
  conflict inbox, and its outbox entries go with it.

Versions are compared with ``sync_versions``, which every local change
writes in its own transaction (store/outbox.py), tombstones included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from atom_desktop.store.automations import automation_payload
from atom_desktop.store.database import Database
from atom_desktop.store.errors import StoreError
from atom_desktop.store.models import (
    TASK_STATUSES,
    AutomationRow,
    OutboxRow,
    SyncConflictRow,
    SyncStateRow,
    SyncVersionRow,
    TaskRow,
)
from atom_desktop.store.outbox import VERSION_UPSERT, OutboxEntry, pending_entries
from atom_desktop.store.sync_state import TWO_WAY

#: Why a version is in the conflict inbox.
LOST = "lost"  # a local change that a newer version from another device overwrote
REJECTED = "rejected"  # a pulled version this device cannot store (see RejectedRemoteError)

#: Merges a pulled automation payload with the local one (or None): sync's
#: way of keeping this device's secrets, which never leave it.
Merge = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


class RejectedRemoteError(StoreError):
    """A pulled version that cannot be stored here (unreadable, or clashing with a local row)."""


@dataclass(frozen=True, slots=True)
class RemoteRow:
    """A version of a row as the server holds it."""

    entity: str
    entity_id: str
    data: dict[str, Any]
    hlc: int
    device_id: str
    deleted: bool
    change_id: int


@dataclass(frozen=True, slots=True)
class LostChange:
    """A pushed change the server kept an other device's newer version over."""

    entry: OutboxEntry
    winner_hlc: int
    winner_device_id: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """A version in the conflict inbox: the change that lost and what it lost to."""

    id: int
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    hlc: int
    winner_hlc: int
    winner_device_id: str
    reason: str
    detected_at: datetime


@dataclass(slots=True)
class ApplyResult:
    """What a page of pulled rows did here."""

    #: ``(entity, id, op)`` of each row written, op one of created/updated/deleted.
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    #: Rows whose version here was as new or newer (our own echoes among them).
    skipped: int = 0
    #: Versions filed in the conflict inbox (local losers and rejected remote rows).
    conflicts: int = 0


class SyncReplica:
    """The local database as sync sees it. Blocking: call it from a worker thread."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._clock = clock

    # -- state --------------------------------------------------------------------

    def device_id(self) -> str:
        """This device's id (made once by the migration)."""
        with self._db.read() as session:
            return self._db.change_clock(session).device_id

    def cursor(self) -> int:
        """The last server change_id applied here."""
        with self._db.read() as session:
            return session.scalar(select(SyncStateRow.pull_cursor)) or 0

    # -- push ---------------------------------------------------------------------

    def pending(self, limit: int, after: int = 0) -> list[OutboxEntry]:
        """The oldest ``limit`` outbox entries after ``after``."""
        with self._db.read() as session:
            return pending_entries(session, limit, after)

    def acknowledge(self, sent: Sequence[OutboxEntry], lost: Sequence[LostChange]) -> None:
        """After the server's commit: drop ``sent``, file ``lost`` changes, move the clock."""
        now = self._clock()
        with self._db.write() as session:
            for change in lost:
                _file(session, change.entry, (change.winner_hlc, change.winner_device_id), now)
            seqs = [entry.seq for entry in sent]
            for start in range(0, len(seqs), 500):
                session.execute(
                    delete(OutboxRow).where(OutboxRow.seq.in_(seqs[start : start + 500]))
                )
            if lost:
                clock = self._db.change_clock(session)
                clock.clock.observe(max(change.winner_hlc for change in lost))
                clock.save(session)

    # -- pull ---------------------------------------------------------------------

    def apply(self, rows: Sequence[RemoteRow], cursor: int, merge: Merge) -> ApplyResult:
        """Write pulled ``rows`` (in change order) and the new ``cursor`` in one transaction."""
        result = ApplyResult()
        now = self._clock()
        with self._db.write() as session:
            clock = self._db.change_clock(session)
            for row in rows:
                clock.clock.observe(row.hlc)
                if row.entity not in TWO_WAY:
                    continue
                version = session.get(SyncVersionRow, (row.entity, row.entity_id))
                if version is not None and (row.hlc, row.device_id) <= (
                    version.hlc,
                    version.device_id,
                ):
                    result.skipped += 1
                    continue
                try:
                    with session.begin_nested():
                        op = self._write(session, row, merge, now)
                except RejectedRemoteError as exc:
                    self._reject(session, row, str(exc), now)
                    result.conflicts += 1
                    continue
                pending = self._pending(session, row.entity, row.entity_id)
                if pending is not None:
                    # The remote version is newer than a change not pushed yet:
                    # that change lost. It is kept in the inbox, and not sent.
                    _file(session, pending, (row.hlc, row.device_id), now)
                    session.execute(
                        delete(OutboxRow).where(
                            OutboxRow.entity == row.entity, OutboxRow.entity_id == row.entity_id
                        )
                    )
                    result.conflicts += 1
                session.execute(
                    VERSION_UPSERT,
                    {
                        "entity": row.entity,
                        "entity_id": row.entity_id,
                        "hlc": row.hlc,
                        "device_id": row.device_id,
                        "deleted": row.deleted,
                    },
                )
                if op is not None:
                    result.changed.append((row.entity, row.entity_id, op))
            session.execute(
                update(SyncStateRow)
                .where(SyncStateRow.id == 1, SyncStateRow.pull_cursor < cursor)
                .values(pull_cursor=cursor)
            )
            clock.save(session)
        return result

    # -- the conflict inbox -------------------------------------------------------

    def conflicts(self, limit: int = 100) -> list[Conflict]:
        """Unresolved conflicts, newest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(SyncConflictRow)
                .where(SyncConflictRow.resolved_at.is_(None))
                .order_by(SyncConflictRow.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return [Conflict(**{n: getattr(r, n) for n in Conflict.__slots__}) for r in rows]

    def conflict_count(self) -> int:
        """How many conflicts wait to be looked at."""
        with self._db.read() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(SyncConflictRow)
                    .where(SyncConflictRow.resolved_at.is_(None))
                )
                or 0
            )

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _pending(session: Session, entity: str, entity_id: str) -> OutboxEntry | None:
        row = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.entity == entity, OutboxRow.entity_id == entity_id)
            .order_by(OutboxRow.seq.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return OutboxEntry(
            row.seq, row.entity, row.entity_id, row.op, row.payload, row.created_at, row.hlc
        )

    @staticmethod
    def _reject(session: Session, row: RemoteRow, why: str, now: datetime) -> None:
        # The remote version is kept whole, so nothing is lost; the local row stays.
        session.add(
            SyncConflictRow(
                entity=row.entity,
                entity_id=row.entity_id,
                op="delete" if row.deleted else "upsert",
                payload={"data": row.data, "device_id": row.device_id, "why": why},
                hlc=row.hlc,
                winner_hlc=row.hlc,
                winner_device_id=row.device_id,
                reason=REJECTED,
                detected_at=now,
            )
        )

    def _write(self, session: Session, row: RemoteRow, merge: Merge, now: datetime) -> str | None:
        """Store one winning remote version; the op it amounts to (None: nothing here changed)."""
        if row.entity == "task":
            return _write_task(session, row)
        return _write_automation(session, row, merge, now)


def _file(session: Session, entry: OutboxEntry, winner: tuple[int, str], now: datetime) -> None:
    """Keep a local change that lost to ``winner`` (its stamp and device) in the inbox."""
    session.add(
        SyncConflictRow(
            entity=entry.entity,
            entity_id=entry.entity_id,
            op=entry.op,
            payload=entry.payload,
            hlc=entry.hlc,
            winner_hlc=winner[0],
            winner_device_id=winner[1],
            reason=LOST,
            detected_at=now,
        )
    )


def _write_task(session: Session, row: RemoteRow) -> str | None:
    existing = session.get(TaskRow, row.entity_id)
    if row.deleted:
        if existing is None:
            return None
        session.delete(existing)
        session.flush()
        return "deleted"
    values = _task_values(row)
    # Only a task from elsewhere (an external id) can clash; asked of every
    # task, "external_id IS NULL" matched all the local ones, and the pull
    # loaded them all for each row it applied.
    clash = (
        None
        if values["external_id"] is None
        else session.scalar(
            select(TaskRow.id)
            .where(
                TaskRow.source == values["source"],
                TaskRow.external_id == values["external_id"],
                TaskRow.id != row.entity_id,
            )
            .limit(1)
        )
    )
    if clash is not None:
        raise RejectedRemoteError(
            f"task {clash} here already has source {values['source']!r} and external id "
            f"{values['external_id']!r}"
        )
    if existing is None:
        session.add(TaskRow(**values))
        session.flush()
        return "created"
    for name, value in values.items():
        setattr(existing, name, value)
    session.flush()
    return "updated"


def _time(value: Any, name: str, *, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise RejectedRemoteError(f"{name} is not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedRemoteError(f"{name} is not a time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _task_values(row: RemoteRow) -> dict[str, Any]:
    """The columns of a pulled task, checked as the table would check them."""
    data = row.data
    title, notes, status = data.get("title"), data.get("notes", ""), data.get("status")
    priority, tags = data.get("priority", 0), data.get("tags", [])
    source, external_id = data.get("source", "local"), data.get("external_id")
    if not isinstance(title, str) or not isinstance(notes, str):
        raise RejectedRemoteError("title and notes must be text")
    if status not in TASK_STATUSES:
        raise RejectedRemoteError(f"unknown status {status!r}")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 3:
        raise RejectedRemoteError(f"priority {priority!r} is not 0..3")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RejectedRemoteError("tags must be a list of text")
    if not isinstance(source, str) or not (external_id is None or isinstance(external_id, str)):
        raise RejectedRemoteError("source and external id must be text")
    created = _time(data.get("created_at"), "created_at")
    updated = _time(data.get("updated_at"), "updated_at")
    return {
        "id": row.entity_id,
        "title": title,
        "notes": notes,
        "status": status,
        "priority": priority,
        "due_at": _time(data.get("due_at"), "due_at", optional=True),
        "tags": tags,
        "source": source,
        "external_id": external_id,
        "created_at": created,
        "updated_at": updated,
    }


def _write_automation(session: Session, row: RemoteRow, merge: Merge, now: datetime) -> str | None:
    existing = session.get(AutomationRow, row.entity_id)
    if row.deleted:
        if existing is None:
            return None
        session.delete(existing)
        session.flush()
        return "deleted"
    local = automation_payload(existing) if existing is not None else None
    data = merge(row.data, local)
    name, enabled, spec = data.get("name"), data.get("enabled"), data.get("spec")
    if not isinstance(name, str) or not isinstance(enabled, bool) or not isinstance(spec, dict):
        raise RejectedRemoteError("an automation needs a name, enabled and a spec")
    if existing is None:
        # Its schedule counts from its arrival here, as for one made here.
        session.add(
            AutomationRow(
                id=row.entity_id,
                name=name,
                enabled=enabled,
                spec=spec,
                anchor_at=now,
                checked_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        return "created"
    existing.name, existing.enabled, existing.spec = name, enabled, spec
    existing.anchor_at = existing.checked_at = existing.updated_at = now
    session.flush()
    return "updated"
