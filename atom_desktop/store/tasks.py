"""The task repository: writes with their outbox entries, filters, pages, search."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    TextClause,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atom_desktop.core.events import EventBus, TaskChanged
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError, StoreError
from atom_desktop.store.models import OutboxRow, TaskRow
from atom_desktop.store.outbox import record_change
from atom_desktop.store.task_types import (
    Task,
    TaskCreate,
    TaskFilter,
    TaskOrder,
    TaskPage,
    TaskUpdate,
)

MAX_PAGE = 500
_WORD = re.compile(r"\w+", re.UNICODE)
_FTS_MATCH = text("tasks.rowid IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH :fts)")


class InvalidCursorError(StoreError):
    """A pagination cursor that this listing did not hand out."""


def fts_query(user_text: str) -> str | None:
    """Turn what a person typed into a safe FTS5 query (all words, as prefixes).

    Quoting every word means no FTS5 syntax (quotes, ``NEAR``, ``*``, ``-``)
    from the user can produce a syntax error or change the query's meaning.
    """
    words = _WORD.findall(user_text)
    if not words:
        return None
    return " ".join(f'"{word}"*' for word in words)


@contextmanager
def _conflicts() -> Iterator[None]:
    """Turn a unique-constraint failure into a ConflictError a person can read."""
    try:
        yield
    except IntegrityError as exc:
        if "UNIQUE" not in str(exc.orig):
            raise
        raise ConflictError(
            "A task from the same source with the same external id already exists."
        ) from None


def _to_task(row: TaskRow) -> Task:
    return Task(
        id=row.id,
        title=row.title,
        notes=row.notes,
        status=row.status,
        priority=row.priority,
        due_at=row.due_at,
        tags=tuple(row.tags),
        source=row.source,
        external_id=row.external_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class TaskRepository:
    """Stores tasks; every write also records an outbox entry in the same transaction."""

    def __init__(
        self,
        db: Database,
        ids: IdFactory,
        bus: EventBus | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._ids = ids
        self._bus = bus
        self._clock = clock

    # -- writes -------------------------------------------------------------------

    def create(self, data: TaskCreate) -> Task:
        """Store a new task and return it."""
        return self.create_many([data])[0]

    def create_many(self, items: Iterable[TaskCreate]) -> list[Task]:
        """Store several tasks in one transaction (all or none)."""
        created: list[Task] = []
        for data in items:
            now = self._clock()
            fields = data.model_dump()
            fields["tags"] = tuple(fields["tags"])
            created.append(Task(id=self._ids.new(), created_at=now, updated_at=now, **fields))
        if not created:
            return []
        # Core bulk inserts: one executemany per table instead of an ORM unit
        # of work per object (bench/store.py measures the difference).
        task_rows = [task.values() for task in created]
        outbox_rows = [
            {
                "entity": "task",
                "entity_id": task.id,
                "op": "upsert",
                "payload": task.to_json(),
                "created_at": task.updated_at,
            }
            for task in created
        ]
        with _conflicts(), self._db.write() as session:
            session.execute(insert(TaskRow), task_rows)
            session.execute(insert(OutboxRow), outbox_rows)
        for task in created:
            self._publish(task.id, "created")
        return created

    def update(self, task_id: str, changes: TaskUpdate) -> Task:
        """Apply the fields set in ``changes``; raise NotFoundError if there is no such task."""
        with _conflicts(), self._db.write() as session:
            row = self._row(session, task_id)
            for field in changes.model_fields_set:
                setattr(row, field, getattr(changes, field))
            row.updated_at = max(self._clock(), row.updated_at)
            task = _to_task(row)
            self._outbox(session, task, "upsert")
        self._publish(task_id, "updated")
        return task

    def delete(self, task_id: str) -> None:
        """Remove a task; raise NotFoundError if there is no such task."""
        with self._db.write() as session:
            row = self._row(session, task_id)
            session.delete(row)
            record_change(
                session,
                entity="task",
                entity_id=task_id,
                op="delete",
                payload={"id": task_id},
                at=self._clock(),
            )
        self._publish(task_id, "deleted")

    # -- reads --------------------------------------------------------------------

    def get(self, task_id: str) -> Task:
        """The task with ``task_id``; NotFoundError if there is none."""
        with self._db.read() as session:
            return _to_task(self._row(session, task_id))

    def count(self, filters: TaskFilter | None = None) -> int:
        """How many tasks there are (that match ``filters``)."""
        conditions = self._conditions(filters or TaskFilter())
        if conditions is None:
            return 0
        stmt = select(func.count()).select_from(TaskRow).where(*conditions)
        with self._db.read() as session:
            return session.scalar(stmt) or 0

    def page(
        self,
        filters: TaskFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        order: TaskOrder = "created",
    ) -> TaskPage:
        """Newest first (by creation or last update), ``limit`` at a time."""
        limit = max(1, min(limit, MAX_PAGE))
        conditions = self._conditions(filters or TaskFilter())
        if conditions is None:
            return TaskPage([], None)
        stmt = select(TaskRow).where(*conditions)
        if order == "created":
            stmt = stmt.order_by(TaskRow.id.desc())
        else:
            stmt = stmt.order_by(TaskRow.updated_at.desc(), TaskRow.id.desc())
        if cursor is not None:
            stmt = stmt.where(self._after(cursor, order))
        with self._db.read() as session:
            items = [_to_task(r) for r in session.scalars(stmt.limit(limit + 1))]
        more = len(items) > limit
        items = items[:limit]
        next_cursor = self._cursor(items[-1], order) if more else None
        return TaskPage(items, next_cursor)

    def search(self, user_text: str, limit: int = 20) -> list[Task]:
        """Tasks whose title or notes match every word typed, best match first."""
        query = fts_query(user_text)
        if query is None:
            return []
        stmt = (
            select(TaskRow)
            .from_statement(
                text(
                    "SELECT tasks.* FROM tasks_fts JOIN tasks ON tasks.rowid = tasks_fts.rowid "
                    "WHERE tasks_fts MATCH :fts ORDER BY bm25(tasks_fts, 10.0, 1.0) LIMIT :limit"
                )
            )
            .params(fts=query, limit=max(1, min(limit, MAX_PAGE)))
        )
        with self._db.read() as session:
            return [_to_task(r) for r in session.scalars(stmt)]

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, task_id)
        if row is None:
            raise NotFoundError(f"There is no task with id {task_id!r}.")
        return row

    def _outbox(self, session: Session, task: Task, op: str) -> None:
        record_change(
            session,
            entity="task",
            entity_id=task.id,
            op=op,
            payload=task.to_json(),
            at=task.updated_at,
        )

    def _publish(self, task_id: str, op: str) -> None:
        if self._bus is not None:
            self._bus.publish(TaskChanged(task_id=task_id, op=op))

    @staticmethod
    def _conditions(f: TaskFilter) -> list[ColumnElement[bool] | TextClause] | None:
        conditions: list[ColumnElement[bool] | TextClause] = []
        if f.statuses:
            conditions.append(TaskRow.status.in_(f.statuses))
        if f.min_priority is not None:
            conditions.append(TaskRow.priority >= f.min_priority)
        if f.due_before is not None:
            conditions.append(TaskRow.due_at < f.due_before)
        if f.due_after is not None:
            conditions.append(TaskRow.due_at >= f.due_after)
        if f.source is not None:
            conditions.append(TaskRow.source == f.source)
        if f.tag is not None:
            tags = func.json_each(TaskRow.tags).table_valued("value")
            conditions.append(exists(select(1).select_from(tags).where(tags.c.value == f.tag)))
        if f.text is not None:
            query = fts_query(f.text)
            if query is None:
                return None  # nothing searchable typed: nothing matches
            conditions.append(_FTS_MATCH.bindparams(fts=query))
        return conditions

    @staticmethod
    def _cursor(task: Task, order: TaskOrder) -> str:
        data: dict[str, Any] = {"o": order, "id": task.id}
        if order == "updated":
            data["u"] = task.updated_at.isoformat()
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    @staticmethod
    def _after(cursor: str, order: TaskOrder) -> ColumnElement[bool]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
            if data["o"] != order or not isinstance(data["id"], str):
                raise ValueError("cursor of another listing")
            if order == "created":
                return TaskRow.id < data["id"]
            updated = datetime.fromisoformat(data["u"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidCursorError(
                "The cursor is not one this listing handed out; start again without it."
            ) from None
        return or_(
            TaskRow.updated_at < updated,
            and_(TaskRow.updated_at == updated, TaskRow.id < data["id"]),
        )
