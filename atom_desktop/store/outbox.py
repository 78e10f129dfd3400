"""The sync outbox: every change that must reach the server, in commit order.

Rows are written by the repositories inside the same transaction as the
change itself, so a change is never committed without its outbox entry (nor
the other way round), whatever crashes when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atom_desktop.store.database import Database
from atom_desktop.store.models import OutboxRow


def record_change(
    session: Session,
    *,
    entity: str,
    entity_id: str,
    op: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Add an outbox entry to ``session``'s transaction."""
    session.add(
        OutboxRow(entity=entity, entity_id=entity_id, op=op, payload=payload, created_at=at)
    )


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One pending change."""

    seq: int
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    created_at: datetime


class Outbox:
    """Read access to pending changes (sync pushes and removes them later)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def pending(self, limit: int = 100, after: int = 0) -> list[OutboxEntry]:
        """The oldest pending entries after sequence number ``after``."""
        with self._db.read() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.seq > after).order_by(OutboxRow.seq).limit(limit)
            )
            return [
                OutboxEntry(r.seq, r.entity, r.entity_id, r.op, r.payload, r.created_at)
                for r in rows
            ]

    def count(self) -> int:
        """How many changes wait to be pushed."""
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(OutboxRow)) or 0
