"""This device's sync identity: its id and the hybrid logical clock that stamps changes.

Each change is stamped inside the transaction that makes it, while the
store's single writer is held, so one device's stamps grow in the order its
changes commit. The clock's latest stamp is saved in ``sync_state`` in the
same transaction, and read back once when the database is first written to
after opening.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from atom_desktop.core.hlc import HybridClock, wall_ms
from atom_desktop.store.errors import StoreError
from atom_desktop.store.models import SyncStateRow

#: The entities that sync both ways (their versions are kept); runs go one way.
TWO_WAY = frozenset({"task", "automation"})


@dataclass(frozen=True, slots=True)
class ChangeClock:
    """The device id and its clock: who made a change, and when in HLC terms."""

    device_id: str
    clock: HybridClock

    def save(self, session: Session) -> None:
        """Keep the clock's latest stamp in ``session``'s transaction (never moves back)."""
        session.execute(
            update(SyncStateRow)
            .where(SyncStateRow.id == 1)
            .values(hlc=func.max(SyncStateRow.hlc, self.clock.last))
        )


def load_change_clock(session: Session, wall: Callable[[], int] = wall_ms) -> ChangeClock:
    """The device's id and a clock that carries on from its saved stamp."""
    row = session.execute(select(SyncStateRow.device_id, SyncStateRow.hlc)).first()
    if row is None:
        raise StoreError("The database has no sync state (migration 0006 did not run).")
    return ChangeClock(row.device_id, HybridClock(row.hlc, wall))
