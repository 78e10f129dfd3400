"""The sync outbox: every change that must reach the server, in commit order.

Rows are written by the repositories inside the same transaction as the
change itself, so a change is never committed without its outbox entry (nor
the other way round), whatever crashes when. Each entry is stamped there by
the device's hybrid logical clock, and the row's version (stamp, this
device) is kept in ``sync_versions`` in the same transaction: a pull
compares a remote version with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from atom_desktop.store.database import Database
from atom_desktop.store.models import OutboxRow, SyncVersionRow
from atom_desktop.store.sync_state import TWO_WAY

#: Keep a row's newest version (its stamp, device and whether it is deleted).
VERSION_UPSERT = sqlite_insert(SyncVersionRow)
VERSION_UPSERT = VERSION_UPSERT.on_conflict_do_update(
    index_elements=[SyncVersionRow.entity, SyncVersionRow.entity_id],
    set_={
        "hlc": VERSION_UPSERT.excluded.hlc,
        "device_id": VERSION_UPSERT.excluded.device_id,
        "deleted": VERSION_UPSERT.excluded.deleted,
    },
)


@dataclass(frozen=True, slots=True)
class Change:
    """A change to record: which row, what happened, its JSON, when."""

    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    at: datetime


def record_changes(db: Database, session: Session, changes: Sequence[Change]) -> None:
    """Add outbox entries (stamped, in order) and row versions to ``session``'s transaction."""
    if not changes:
        return
    clock = db.change_clock(session)
    entries: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for change in changes:
        stamp = clock.clock.now()
        entries.append(
            {
                "entity": change.entity,
                "entity_id": change.entity_id,
                "op": change.op,
                "payload": change.payload,
                "created_at": change.at,
                "hlc": stamp,
            }
        )
        if change.entity in TWO_WAY:
            versions.append(
                {
                    "entity": change.entity,
                    "entity_id": change.entity_id,
                    "hlc": stamp,
                    "device_id": clock.device_id,
                    "deleted": change.op == "delete",
                }
            )
    # Core bulk inserts: one executemany per table (bench/store.py measures them).
    session.execute(insert(OutboxRow), entries)
    if versions:
        session.execute(VERSION_UPSERT, versions)
    clock.save(session)


def record_change(
    db: Database,
    session: Session,
    *,
    entity: str,
    entity_id: str,
    op: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Add one outbox entry (and the row's version) to ``session``'s transaction."""
    record_changes(db, session, [Change(entity, entity_id, op, payload, at)])


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One pending change."""

    seq: int
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    created_at: datetime
    hlc: int


class Outbox:
    """Read access to pending changes (sync pushes and removes them later)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, limit: int = 100, after: int = 0) -> list[OutboxEntry]:
        """The oldest pending entries after sequence number ``after``."""
        with self._db.read() as session:
            return pending_entries(session, limit, after)

    def count(self) -> int:
        """How many changes wait to be pushed."""
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(OutboxRow)) or 0

    def oldest(self) -> datetime | None:
        """When the oldest pending change was made (None when nothing waits)."""
        with self._db.read() as session:
            return session.scalar(select(OutboxRow.created_at).order_by(OutboxRow.seq).limit(1))


def pending_entries(session: Session, limit: int, after: int = 0) -> list[OutboxEntry]:
    """The oldest ``limit`` entries after ``after``, read through ``session``."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)
    )
    return [
        OutboxEntry(r.seq, r.entity, r.entity_id, r.op, r.payload, r.created_at, r.hlc)
        for r in rows
    ]
