"""Run records and their stored output chunks.

Each change of a run's state also records its summary (command, status,
exit code, times; never output) in the sync outbox, in the same
transaction: sync sends summaries one way, so the web app can show what ran
on each desktop.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from atom_desktop.core.output import Chunk
from atom_desktop.core.statuses import RUN_ACTIVE, RUN_FINISHED, RunStatus
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.models import RunChunkRow, RunRow
from atom_desktop.store.outbox import Change, record_changes

#: The outbox entity of run summaries.
RUN_ENTITY = "run"

# Chunks per page when a stream's output is read in pages: the runner's
# chunks are at most 64 KiB, so a page is at most 2 MiB. 32 rather than 16:
# a download costs less CPU per GiB, for 2 MiB more of the agent's memory
# (bench/stream.py, bench/RESULTS.md).
OUTPUT_PAGE = 32
# The page cache (KiB) while output is read in pages (see stream_page).
PAGE_CACHE_KIB = 2048


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run."""

    id: str
    source: str
    requester: str | None
    argv: list[str] | None
    shell: str | None
    cwd: str
    env_names: list[str]
    status: RunStatus
    exit_code: int | None
    signal: int | None
    error: str | None
    timeout_s: float | None
    idle_timeout_s: float | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    stdout_bytes: int
    stderr_bytes: int
    dropped_bytes: int
    last_seq: int
    peak_rss: int | None
    cpu_s: float | None

    @property
    def finished(self) -> bool:
        """The run has ended, one way or another."""
        return self.status in RUN_FINISHED


def _record(row: RunRow) -> RunRecord:
    values = {name: getattr(row, name) for name in RunRecord.__slots__}
    values["status"] = RunStatus(row.status)
    return RunRecord(**values)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def run_summary(row: RunRow) -> dict[str, Any]:
    """What sync sends of a run: never its output, its environment or where it ran."""
    command = row.shell if row.shell is not None else shlex.join(row.argv or [])
    return {
        "command": command,
        "status": str(row.status),
        "exit_code": row.exit_code,
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.ended_at),
    }


class RunRepository:
    """Persists runs; the runner is the only writer of a live run."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._clock = clock

    def create(self, **fields: Any) -> RunRecord:
        """Store a new run (status ``queued``)."""
        with self._db.write() as session:
            row = RunRow(status=RunStatus.QUEUED, created_at=self._clock(), **fields)
            session.add(row)
            session.flush()
            self._summarise(session, [row.id])
            return _record(row)

    def update(self, run_id: str, **fields: Any) -> None:
        """Change fields of a run."""
        with self._db.write() as session:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(**fields))
            if "status" in fields:
                self._summarise(session, [run_id])

    def _summarise(self, session: Session, run_ids: Sequence[str]) -> None:
        """Record the summaries of ``run_ids`` for sync, in ``session``'s transaction."""
        rows = session.scalars(select(RunRow).where(RunRow.id.in_(run_ids)).order_by(RunRow.id))
        now = self._clock()
        record_changes(
            self._db,
            session,
            [Change(RUN_ENTITY, row.id, "upsert", run_summary(row), now) for row in rows],
        )

    def get(self, run_id: str) -> RunRecord:
        """One run; NotFoundError if there is none."""
        with self._db.read() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFoundError(f"There is no run with id {run_id!r}.")
            return _record(row)

    def page(
        self,
        *,
        status: Sequence[RunStatus] | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RunRecord]:
        """Runs newest first; pass the last id seen as ``before`` for the next page."""
        stmt = select(RunRow).order_by(RunRow.id.desc()).limit(max(1, min(limit, 500)))
        if status:
            stmt = stmt.where(RunRow.status.in_(status))
        if before is not None:
            stmt = stmt.where(RunRow.id < before)
        with self._db.read() as session:
            return [_record(r) for r in session.scalars(stmt)]

    def delete(self, run_id: str) -> None:
        """Delete a finished run and its output."""
        with self._db.write() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFoundError(f"There is no run with id {run_id!r}.")
            if row.status not in RUN_FINISHED:
                raise ConflictError("The run has not finished; cancel it first.")
            session.execute(delete(RunChunkRow).where(RunChunkRow.run_id == run_id))
            session.delete(row)

    def mark_interrupted(self) -> int:
        """Runs a crash left queued or running become ``interrupted``; returns how many."""
        with self._db.write() as session:
            ids = list(session.scalars(select(RunRow.id).where(RunRow.status.in_(RUN_ACTIVE))))
            if not ids:
                return 0
            session.execute(
                update(RunRow)
                .where(RunRow.id.in_(ids))
                .values(status=RunStatus.INTERRUPTED, ended_at=self._clock())
            )
            self._summarise(session, ids)
            return len(ids)

    def append_chunks(
        self,
        run_id: str,
        chunks: Sequence[Chunk],
        drop_between: tuple[int, int] | None = None,
        **fields: Any,
    ) -> None:
        """Store chunks (and drop stored ones with seq in ``drop_between``, exclusive)."""
        with self._db.write() as session:
            if drop_between is not None:
                low, high = drop_between
                session.execute(
                    delete(RunChunkRow).where(
                        RunChunkRow.run_id == run_id, RunChunkRow.seq > low, RunChunkRow.seq < high
                    )
                )
            if chunks:
                session.execute(
                    insert(RunChunkRow),
                    [
                        {
                            "run_id": run_id,
                            "seq": c.seq,
                            "stream": c.stream,
                            "at": c.at,
                            "data": c.data,
                        }
                        for c in chunks
                    ],
                )
            if fields:
                session.execute(update(RunRow).where(RunRow.id == run_id).values(**fields))
                if "status" in fields:
                    self._summarise(session, [run_id])

    def save_output(
        self,
        run_id: str,
        chunks: Sequence[Chunk],
        drop_between: tuple[int, int] | None,
        *,
        piece: int,
        **fields: Any,
    ) -> None:
        """Drop stored chunks in ``drop_between``, store ``chunks``, then set ``fields``.

        Several short transactions of at most ``piece`` chunks rather than one
        long one: the database has one writer, and writers take turns between
        transactions, so a flood's megabytes never make a one-row write (a
        task, an automation run) wait for all of them.
        """
        if drop_between is not None:
            while self.drop_chunks(run_id, drop_between, limit=piece):
                pass
        pieces = [chunks[i : i + piece] for i in range(0, len(chunks), piece)] or [[]]
        for index, part in enumerate(pieces):
            last = index == len(pieces) - 1
            self.append_chunks(run_id, part, **(fields if last else {}))

    def drop_chunks(self, run_id: str, between: tuple[int, int], *, limit: int) -> int:
        """Delete up to ``limit`` stored chunks with seq in ``between`` (exclusive); how many."""
        low, high = between
        with self._db.write() as session:
            oldest = (
                select(RunChunkRow.seq)
                .where(RunChunkRow.run_id == run_id, RunChunkRow.seq > low, RunChunkRow.seq < high)
                .order_by(RunChunkRow.seq)
                .limit(limit)
            )
            result = session.execute(
                delete(RunChunkRow).where(
                    RunChunkRow.run_id == run_id, RunChunkRow.seq.in_(oldest.scalar_subquery())
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def chunks(self, run_id: str, *, after: int = 0, limit: int = 256) -> list[Chunk]:
        """Stored chunks with seq > ``after``, in order."""
        with self._db.read() as session:
            rows = session.scalars(
                select(RunChunkRow)
                .where(RunChunkRow.run_id == run_id, RunChunkRow.seq > after)
                .order_by(RunChunkRow.seq)
                .limit(limit)
            )
            return [Chunk(r.seq, r.stream, r.at, r.data) for r in rows]

    def output(self, run_id: str, stream: str) -> bytes:
        """Every stored byte of one stream, in order, in memory (any size: ``stream_pages``)."""
        with self._db.read() as session:
            data = session.scalars(
                select(RunChunkRow.data)
                .where(RunChunkRow.run_id == run_id, RunChunkRow.stream == stream)
                .order_by(RunChunkRow.seq)
            )
            return b"".join(data)

    def stream_page(
        self, run_id: str, stream: str, *, after: int = 0, limit: int = OUTPUT_PAGE
    ) -> list[Chunk]:
        """Up to ``limit`` stored chunks of ``stream`` with seq > ``after``, in order.

        One short read: pass the last seq seen as ``after`` for the next page.
        """
        with self._db.read() as session:
            conn = session.connection()
            # Output read in bulk is read once: its pages would fill the
            # connection's page cache (64 MiB per pooled connection) and evict
            # what other queries keep there. A small cache for this read only.
            kept = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
            conn.exec_driver_sql(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            try:
                rows = conn.execute(
                    select(RunChunkRow.seq, RunChunkRow.at, RunChunkRow.data)
                    .where(
                        RunChunkRow.run_id == run_id,
                        RunChunkRow.seq > after,
                        RunChunkRow.stream == stream,
                    )
                    .order_by(RunChunkRow.seq)
                    .limit(max(1, limit))
                )
                return [Chunk(seq, stream, at, data) for seq, at, data in rows]
            finally:
                conn.exec_driver_sql(f"PRAGMA cache_size = {kept}")

    def stream_pages(
        self, run_id: str, stream: str, *, limit: int = OUTPUT_PAGE
    ) -> Iterator[list[Chunk]]:
        """Every stored chunk of ``stream`` in seq order, a page of ``limit`` at a time.

        Each page is its own read (no transaction is held between pages, so a
        long download never pins the write-ahead log), and only one page is
        in memory at a time.
        """
        after = 0
        while page := self.stream_page(run_id, stream, after=after, limit=limit):
            after = page[-1].seq
            yield page

    def tail(self, run_id: str, stream: str, max_bytes: int) -> bytes:
        """The last ``max_bytes`` (at most) of one stream, reading only the chunks it needs."""
        if max_bytes <= 0:
            return b""
        pieces: list[bytes] = []
        kept = 0
        with self._db.read() as session:
            # Newest first, stopping once enough is read: a run of gigabytes
            # costs a few chunks here, not its whole output.
            rows = session.scalars(
                select(RunChunkRow.data)
                .where(RunChunkRow.run_id == run_id, RunChunkRow.stream == stream)
                .order_by(RunChunkRow.seq.desc())
            )
            for data in rows:
                pieces.append(data)
                kept += len(data)
                if kept >= max_bytes:
                    break
        return b"".join(reversed(pieces))[-max_bytes:]

    def stored_bytes(self, run_id: str, stream: str) -> int:
        """How many bytes of ``stream`` are stored (read without loading them)."""
        with self._db.read() as session:
            # SQLite answers length() of a blob column from the record header:
            # the chunks' overflow pages are not read.
            total = session.scalar(
                select(func.sum(func.length(RunChunkRow.data))).where(
                    RunChunkRow.run_id == run_id, RunChunkRow.stream == stream
                )
            )
            return int(total or 0)

    def count(self) -> int:
        """How many runs are stored."""
        with self._db.read() as session:
            return session.scalar(select(func.count()).select_from(RunRow)) or 0
