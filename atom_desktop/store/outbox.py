"""The sync outbox: every change that must reach the server, in commit order.

Rows are written by the repositories inside the same transaction as the
change itself, so a change is never committed without its outbox entry (nor
the other way round), whatever crashes when. Each entry is stamped there by
the device's hybrid logical clock, and the row's version (stamp, this
device) is kept in ``sync_versions`` in the same transaction: a pull
compares a remote version with it.

The outbox is written whether sync is on or not (it may be turned on
later, and then everything made meanwhile goes), so it must not grow with
every change on a machine that never syncs. Every ``COMPACT_EVERY``
entries, the rows written since the last compaction keep only their newest
entry: each entry carries the whole row (or its tombstone) and the server
keeps the newest version by stamp, so an older entry of the same row would
lose to it anyway (within one push batch it is already left out, see
sync/push.py). The kept entry takes the time of the oldest it replaces, so
"oldest pending change" still says how long the row has waited. The queue
then holds about one entry per row changed since the last push. Run
summaries, a one-way copy of each run's status, add a row per run; only
the newest ``RUN_SUMMARIES_KEPT`` of them are kept waiting, the only
entries the outbox ever drops unsent.

Compaction is safe while a push is under way: it deletes only entries
older than one it keeps, so the entry a push has read and then finds gone
has a newer one still waiting, and the greatest ``seq`` is never deleted
here (the table has no AUTOINCREMENT: a deleted greatest ``seq`` would be
handed out again, and the push's acknowledgement of the old entry would
remove the new one).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from atom_desktop.store.database import Database
from atom_desktop.store.models import OutboxRow, SyncVersionRow
from atom_desktop.store.sync_state import TWO_WAY

logger = logging.getLogger(__name__)

#: Entries between two compactions of the rows written meanwhile.
COMPACT_EVERY = 1000
#: Run summaries kept waiting at most (the newest; older ones are dropped).
RUN_SUMMARIES_KEPT = 10_000
#: The outbox entity of a run summary (store/runs.py writes them).
RUN = "run"
#: The table, for the statements run once per row of parameters.
_OUTBOX = cast(Table, OutboxRow.__table__)

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
    newest = session.scalar(select(func.max(OutboxRow.seq))) or 0
    if newest // COMPACT_EVERY > (newest - len(entries)) // COMPACT_EVERY:
        compact(session, since=newest - len(entries) - COMPACT_EVERY)


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
        # Not the first entry's: a compacted entry keeps the time of the first it replaced.
        with self._db.read() as session:
            return session.scalar(select(func.min(OutboxRow.created_at)))


def compact(session: Session, *, since: int = 0) -> int:
    """Keep one entry per row written after ``since`` and cap run summaries; how many went.

    Runs in ``session``'s transaction (a write); see the module's docstring.
    """
    written = select(OutboxRow.entity, OutboxRow.entity_id).where(OutboxRow.seq > since)
    repeated = session.execute(
        select(
            OutboxRow.entity,
            OutboxRow.entity_id,
            func.max(OutboxRow.seq),
            func.min(OutboxRow.created_at),
        )
        .where(tuple_(OutboxRow.entity, OutboxRow.entity_id).in_(written))
        .group_by(OutboxRow.entity, OutboxRow.entity_id)
        .having(func.count() > 1)
    ).all()
    dropped = 0
    if repeated:
        table = _OUTBOX
        session.execute(
            update(table)
            .where(table.c.seq == bindparam("newest"))
            .values(created_at=bindparam("first_at")),
            [{"newest": newest, "first_at": first_at} for _, _, newest, first_at in repeated],
        )
        result = session.execute(
            delete(table).where(
                table.c.entity == bindparam("key_entity"),
                table.c.entity_id == bindparam("key_id"),
                table.c.seq < bindparam("newest"),
            ),
            [
                {"key_entity": entity, "key_id": entity_id, "newest": newest}
                for entity, entity_id, newest, _ in repeated
            ],
        )
        dropped += int(getattr(result, "rowcount", 0) or 0)
    runs = session.scalar(select(func.count()).where(OutboxRow.entity == RUN)) or 0
    if runs > RUN_SUMMARIES_KEPT:
        oldest = (
            select(OutboxRow.seq)
            .where(OutboxRow.entity == RUN)
            .order_by(OutboxRow.seq)
            .limit(runs - RUN_SUMMARIES_KEPT)
        )
        session.execute(delete(OutboxRow).where(OutboxRow.seq.in_(oldest)))
        dropped += runs - RUN_SUMMARIES_KEPT
        # Expected on a machine that never syncs: not worth a warning each time.
        logger.info(
            "The sync queue held %d run summaries; the %d oldest were dropped unsent "
            "(the runs stay here; only their copy for the sync server goes)",
            runs,
            runs - RUN_SUMMARIES_KEPT,
        )
    return dropped


def pending_entries(session: Session, limit: int, after: int = 0) -> list[OutboxEntry]:
    """The oldest ``limit`` entries after ``after``, read through ``session``."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)
    )
    return [
        OutboxEntry(r.seq, r.entity, r.entity_id, r.op, r.payload, r.created_at, r.hlc)
        for r in rows
    ]
