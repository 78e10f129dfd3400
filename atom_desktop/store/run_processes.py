"""The processes of runs that are going, as (pid, start time), for the start after a crash."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert

from atom_desktop.store.database import Database
from atom_desktop.store.models import RunProcessRow

ProcessIdentity = tuple[int, float]  # pid and its start time (seconds since the epoch)


class RunProcessRepository:
    """Remembers what processes each going run owns, and forgets them when it ends."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def remember(self, run_id: str, processes: Iterable[ProcessIdentity]) -> None:
        """Add processes seen to belong to the run (ones already known are ignored)."""
        rows = [{"run_id": run_id, "pid": pid, "started": started} for pid, started in processes]
        if not rows:
            return
        with self._db.write() as session:
            session.execute(insert(RunProcessRow).on_conflict_do_nothing(), rows)

    def forget(self, run_id: str) -> None:
        """The run has ended, and with it every process it had."""
        with self._db.write() as session:
            session.execute(delete(RunProcessRow).where(RunProcessRow.run_id == run_id))

    def left_behind(self) -> dict[str, set[ProcessIdentity]]:
        """Every remembered process, by run: at a start, those of runs a crash interrupted."""
        found: dict[str, set[ProcessIdentity]] = {}
        with self._db.read() as session:
            for row in session.scalars(select(RunProcessRow)):
                found.setdefault(row.run_id, set()).add((row.pid, row.started))
        return found

    def forget_all(self, run_ids: Iterable[str]) -> None:
        """Forget the runs a start has dealt with."""
        ids = list(run_ids)
        if ids:
            with self._db.write() as session:
                session.execute(delete(RunProcessRow).where(RunProcessRow.run_id.in_(ids)))
