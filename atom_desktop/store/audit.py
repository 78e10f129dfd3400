"""The audit log: every change made through the API or in the window.

Each entry names its actor, the door the change came through: ``api`` (a
request, with the name of its token) or ``window`` (a person at the desktop
app, which has no token). Both are written by :meth:`AuditLog.record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from atom_desktop.core.actors import Actor
from atom_desktop.store.database import Database
from atom_desktop.store.models import AuditRow


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to what, when, and how it ended."""

    id: int
    at: datetime
    token_name: str | None
    action: str
    target: str | None
    status: int
    result: str
    actor: Actor = Actor.API


class AuditLog:
    """Appends entries and pages through them newest first."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._clock = clock

    def record(
        self,
        *,
        action: str,
        target: str | None,
        status: int,
        result: str,
        token_name: str | None = None,
        actor: Actor = Actor.API,
    ) -> None:
        """Append one entry (``token_name`` is None for the window)."""
        with self._db.write() as session:
            session.add(
                AuditRow(
                    at=self._clock(),
                    actor=actor.value,
                    token_name=token_name,
                    action=action[:128],
                    target=None if target is None else target[:255],
                    status=status,
                    result=result,
                )
            )

    def page(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """Entries newest first; pass the last id seen as ``before`` for the next page."""
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(max(1, min(limit, 500)))
        if before is not None:
            stmt = stmt.where(AuditRow.id < before)
        with self._db.read() as session:
            return [
                AuditEntry(
                    r.id, r.at, r.token_name, r.action, r.target, r.status, r.result, Actor(r.actor)
                )
                for r in session.scalars(stmt)
            ]
