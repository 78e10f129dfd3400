"""The task repository: writes with their outbox entries, filters, pages, search.

Listings read their columns as stored and convert them here: through the
ORM, a 100-task page cost more than the rest of an API request for it (an
object and its bookkeeping per row, a regular expression per time).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    TextClause,
    and_,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atom_desktop.core.events import EventBus, TaskChanged
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError, StoreError
from atom_desktop.store.models import TaskRow
from atom_desktop.store.outbox import Change, record_change, record_changes
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
#: The table's columns. Listings and filters use them rather than the mapped
#: attributes, which take a statement through the ORM's compiling and
#: loading steps even when it selects no objects (about 200 us a page).
_COLUMNS = TaskRow.__table__.c
#: A listing's statement before its conditions, order and limit: a page of
#: tasks, their columns in Task's field order, times and tags as the stored
#: text (converted by _task_of and _json_text, not by the column types).
#: Built once: building a select of eleven columns costs about 50 us.
_LISTING = select(
    _COLUMNS.id,
    _COLUMNS.title,
    _COLUMNS.notes,
    _COLUMNS.status,
    _COLUMNS.priority,
    type_coerce(_COLUMNS.due_at, Text),
    type_coerce(_COLUMNS.tags, Text),
    _COLUMNS.source,
    _COLUMNS.external_id,
    type_coerce(_COLUMNS.created_at, Text),
    type_coerce(_COLUMNS.updated_at, Text),
)
#: How SQLAlchemy stores a time in SQLite: naive UTC, always with microseconds.
_STORED_TIME_LENGTH = len("2026-01-01 00:00:00.000000")


def _time_json_sql(column: str) -> str:
    """SQL writing a stored time as :func:`rfc3339` does (NULL stays NULL)."""
    date, clock, whole_second = (
        f"substr({column}, 1, 10)",
        f"substr({column}, 12)",
        f"substr({column}, 12, 8)",
    )
    return (
        f"{date} || 'T' || "
        f"CASE WHEN substr({column}, 20) = '.000000' THEN {whole_second} ELSE {clock} END || 'Z'"
    )


def _in_stored_form_sql(column: str) -> str:
    """SQL: whether a time is in the form :func:`_time_json_sql` rewrites."""
    return f"(length({column}) = {_STORED_TIME_LENGTH} AND substr({column}, 11, 1) = ' ')"


#: A task as the JSON text of the API's TaskPublic, written by SQLite in the
#: query: its fields in that order, times as pydantic writes an aware UTC
#: datetime. SQLite's JSON writer escapes what pydantic's does (quote,
#: backslash, control characters; \b \t \n \f \r by name, the others as
#: \u00xx) and writes all other text as UTF-8, so the bytes are the same
#: (tests/integration/api/test_task_json.py holds them to it). Tags are
#: stored as Python's json.dumps wrote them (non-ASCII escaped, ", "
#: between items); json_each reads them and json_group_array writes them
#: again, in order, the same way. On a page of 100 tasks this costs a
#: fraction of building the dicts and json.dumps in Python.
_TASK_JSON_SQL = "json_object({})".format(
    ", ".join(
        f"'{name}', {value}"
        for name, value in (
            ("id", "tasks.id"),
            ("title", "tasks.title"),
            ("notes", "tasks.notes"),
            ("status", "tasks.status"),
            ("priority", "tasks.priority"),
            ("due_at", _time_json_sql("tasks.due_at")),
            ("tags", "(SELECT json_group_array(value) FROM json_each(tasks.tags))"),
            ("source", "tasks.source"),
            ("external_id", "tasks.external_id"),
            ("created_at", _time_json_sql("tasks.created_at")),
            ("updated_at", _time_json_sql("tasks.updated_at")),
        )
    )
)
#: A listing's statement with each task's JSON text, between the columns a
#: cursor is made of: like ``_LISTING``, it begins with ``id`` and ends with
#: ``updated_at`` as stored. The JSON is NULL for a task with a time not in
#: the stored form (stored by hand or by other software): such a page takes
#: the slower path, which parses times.
_JSON_LISTING = select(
    _COLUMNS.id,
    literal_column(
        f"CASE WHEN (tasks.due_at IS NULL OR {_in_stored_form_sql('tasks.due_at')}) "
        f"AND {_in_stored_form_sql('tasks.created_at')} "
        f"AND {_in_stored_form_sql('tasks.updated_at')} THEN {_TASK_JSON_SQL} END"
    ),
    type_coerce(_COLUMNS.updated_at, Text),
)


@dataclass(frozen=True, slots=True)
class TaskJsonPage:
    """One page of a listing, each task as JSON text (see :meth:`TaskRepository.page_json`)."""

    items: list[str]
    next_cursor: str | None


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


def _utc(stored: str) -> datetime:
    """A stored time (naive UTC text, or text with an offset) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(stored)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def rfc3339(stored: str) -> str:
    """A stored time as RFC 3339 UTC text, written as pydantic writes an aware UTC datetime.

    ``2026-12-06T07:12:40.123456Z``, the fraction left out when it is zero.
    Times are stored as ``2026-12-06 07:12:40.123456``; that form is
    rewritten as text (a tenth of the cost of parsing and formatting it),
    any other is parsed.
    """
    if len(stored) == _STORED_TIME_LENGTH and stored[10] == " ":
        if stored.endswith(".000000"):
            return f"{stored[:10]}T{stored[11:19]}Z"
        return f"{stored[:10]}T{stored[11:]}Z"
    parsed = datetime.fromisoformat(stored)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return f"{parsed.isoformat()}Z"


def _task_of(row: Sequence[Any]) -> Task:
    """A task from a row of the ``_LISTING`` columns."""
    id_, title, notes, status, priority, due_at, tags, source, external_id, created, updated = row
    return Task(
        id=id_,
        title=title,
        notes=notes,
        status=status,
        priority=priority,
        due_at=None if due_at is None else _utc(due_at),
        tags=tuple(json.loads(tags)),
        source=source,
        external_id=external_id,
        created_at=_utc(created),
        updated_at=_utc(updated),
    )


def _json_text(row: Sequence[Any]) -> str:
    """A row of the ``_LISTING`` columns as ``_TASK_JSON_SQL`` writes it, in Python."""
    id_, title, notes, status, priority, due_at, tags, source, external_id, created, updated = row
    task = {
        "id": id_,
        "title": title,
        "notes": notes,
        "status": status,
        "priority": priority,
        "due_at": None if due_at is None else rfc3339(due_at),
        "tags": json.loads(tags),
        "source": source,
        "external_id": external_id,
        "created_at": rfc3339(created),
        "updated_at": rfc3339(updated),
    }
    return json.dumps(task, ensure_ascii=False, separators=(",", ":"))


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
        changes = [
            Change("task", task.id, "upsert", task.to_json(), task.updated_at) for task in created
        ]
        with _conflicts(), self._db.write() as session:
            session.execute(insert(TaskRow), task_rows)
            record_changes(self._db, session, changes)
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
                self._db,
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
        rows, next_cursor = self._listed(_LISTING, filters, limit, cursor, order)
        return TaskPage([_task_of(row) for row in rows], next_cursor)

    def page_json(
        self,
        filters: TaskFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        order: TaskOrder = "created",
    ) -> TaskJsonPage:
        """The same page as :meth:`page`, each task as the JSON text of the API's TaskPublic.

        SQLite writes the JSON in the query (see ``_TASK_JSON_SQL``): the API
        answers a page without a Task, a dict and a model per task on the
        way (bench/RESULTS.md).
        """
        rows, next_cursor = self._listed(_JSON_LISTING, filters, limit, cursor, order)
        items: list[str | None] = [row[1] for row in rows]
        if None not in items:
            return TaskJsonPage(cast(list[str], items), next_cursor)
        rows, next_cursor = self._listed(_LISTING, filters, limit, cursor, order)
        return TaskJsonPage([_json_text(row) for row in rows], next_cursor)

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

    def _listed(
        self,
        listing: Select[Any],
        filters: TaskFilter | None,
        limit: int,
        cursor: str | None,
        order: TaskOrder,
    ) -> tuple[Sequence[Sequence[Any]], str | None]:
        """A page's rows of ``listing``'s columns, and the cursor of the next page.

        ``listing`` is ``_LISTING`` or ``_JSON_LISTING``: both begin with
        ``id`` and end with ``updated_at`` (as stored), which a cursor is made of.
        """
        limit = max(1, min(limit, MAX_PAGE))
        conditions = self._conditions(filters or TaskFilter())
        if conditions is None:
            return [], None
        stmt = listing.where(*conditions)
        if order == "created":
            stmt = stmt.order_by(_COLUMNS.id.desc())
        else:
            stmt = stmt.order_by(_COLUMNS.updated_at.desc(), _COLUMNS.id.desc())
        if cursor is not None:
            stmt = stmt.where(self._after(cursor, order))
        with self._db.read() as session:
            # all(), not iteration: that fetches the rows one call at a time.
            rows: Sequence[Sequence[Any]] = session.execute(stmt.limit(limit + 1)).all()
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1]
        return rows[:limit], self._cursor(last[0], _utc(last[-1]), order)

    @staticmethod
    def _row(session: Session, task_id: str) -> TaskRow:
        row = session.get(TaskRow, task_id)
        if row is None:
            raise NotFoundError(f"There is no task with id {task_id!r}.")
        return row

    def _outbox(self, session: Session, task: Task, op: str) -> None:
        record_change(
            self._db,
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
            conditions.append(_COLUMNS.status.in_(f.statuses))
        if f.min_priority is not None:
            conditions.append(_COLUMNS.priority >= f.min_priority)
        if f.due_before is not None:
            conditions.append(_COLUMNS.due_at < f.due_before)
        if f.due_after is not None:
            conditions.append(_COLUMNS.due_at >= f.due_after)
        if f.source is not None:
            conditions.append(_COLUMNS.source == f.source)
        if f.tag is not None:
            tags = func.json_each(_COLUMNS.tags).table_valued("value")
            conditions.append(exists(select(1).select_from(tags).where(tags.c.value == f.tag)))
        if f.text is not None:
            query = fts_query(f.text)
            if query is None:
                return None  # nothing searchable typed: nothing matches
            conditions.append(_FTS_MATCH.bindparams(fts=query))
        return conditions

    @staticmethod
    def _cursor(task_id: str, updated_at: datetime, order: TaskOrder) -> str:
        data: dict[str, Any] = {"o": order, "id": task_id}
        if order == "updated":
            data["u"] = updated_at.isoformat()
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    @staticmethod
    def _after(cursor: str, order: TaskOrder) -> ColumnElement[bool]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            data = json.loads(raw)
            if data["o"] != order or not isinstance(data["id"], str):
                raise ValueError("cursor of another listing")
            if order == "created":
                return _COLUMNS.id < data["id"]
            updated = datetime.fromisoformat(data["u"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidCursorError(
                "The cursor is not one this listing handed out; start again without it."
            ) from None
        return or_(
            _COLUMNS.updated_at < updated,
            and_(_COLUMNS.updated_at == updated, _COLUMNS.id < data["id"]),
        )
