"""GET /tasks writes its page directly (api/task_json.py); these hold it to pydantic's bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from atom_desktop.api.schemas import TaskPage, TaskPublic
from atom_desktop.api.task_json import task_page_json
from atom_desktop.core.events import EventBus
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.task_types import TaskCreate, TaskFilter, TaskOrder, TaskStatus
from atom_desktop.store.tasks import TaskRepository

#: Every character JSON writers disagree on, if any: quote, backslash,
#: control characters with and without short escapes, DEL, accents, CJK,
#: a character outside the BMP, the line separators, a BOM.
ODD = 'q"b\\s/ \x01\x08\t\n\x0b\x0c\r\x1f\x7f é ü 中 😀 \u2028\u2029 \ufeff'
STATUSES: tuple[TaskStatus, ...] = ("todo", "doing", "done", "cancelled")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "atom.db", os.urandom(32))
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def tasks(db: Database) -> TaskRepository:
    return TaskRepository(db, IdFactory(), EventBus())


def make_varied(tasks: TaskRepository) -> None:
    for i, status in enumerate(STATUSES):
        tasks.create(
            TaskCreate(
                title=f"{ODD} {i}",
                notes=ODD,
                status=status,
                priority=i,
                tags=[ODD[:60], "a", "b c", "😀", "Ünïcode"],
                # An offset, converted to UTC; whole seconds and fractions.
                due_at=datetime(2026, 1, 2, 3, 4, 5, i * 1000, tzinfo=timezone(timedelta(hours=2))),
                source="github",
                external_id=f"{ODD}{i}",
            )
        )
    tasks.create(TaskCreate(title="plain"))
    tasks.create(TaskCreate(title="tagged", tags=["x"], due_at=datetime(2027, 5, 6, tzinfo=UTC)))


def pydantic_bytes(tasks: TaskRepository, **listing: object) -> bytes:
    """The page as FastAPI would have written it from the TaskPage model."""
    page = tasks.page(**listing)  # type: ignore[arg-type]
    model = TaskPage(items=[TaskPublic.of(t) for t in page.items], next_cursor=page.next_cursor)
    return model.model_dump_json().encode()


@pytest.mark.parametrize("order", ["created", "updated"])
def test_every_page_is_byte_for_byte_what_pydantic_writes(
    tasks: TaskRepository, order: TaskOrder
) -> None:
    make_varied(tasks)
    cursor = None
    pages = 0
    while True:
        want = pydantic_bytes(tasks, limit=2, cursor=cursor, order=order)
        page = tasks.page_json(limit=2, cursor=cursor, order=order)
        assert task_page_json(page) == want
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert task_page_json(tasks.page_json(limit=50)) == pydantic_bytes(tasks, limit=50)


@pytest.mark.parametrize(
    "filters",
    [
        TaskFilter(statuses=("done", "cancelled")),
        TaskFilter(tag="😀"),
        TaskFilter(min_priority=2),
        TaskFilter(due_before=datetime(2026, 6, 1, tzinfo=UTC)),
        TaskFilter(due_after=datetime(2026, 6, 1, tzinfo=UTC)),
        TaskFilter(source="github"),
        TaskFilter(text="plain"),
        TaskFilter(text="nothing-matches-this"),
    ],
)
def test_filtered_listings_match(tasks: TaskRepository, filters: TaskFilter) -> None:
    make_varied(tasks)
    page = tasks.page_json(filters, limit=50)
    assert task_page_json(page) == pydantic_bytes(tasks, filters=filters, limit=50)


def test_a_time_stored_another_way_takes_the_parsing_path(
    db: Database, tasks: TaskRepository
) -> None:
    make_varied(tasks)
    kept = tasks.page(limit=1).items[0]
    # As other software might have written it: 'T', an offset, no fraction.
    with db.write() as session:
        session.execute(
            text("UPDATE tasks SET created_at = '2026-03-04T05:06:07+01:00' WHERE id = :id"),
            {"id": kept.id},
        )
    body = task_page_json(tasks.page_json(limit=50))
    assert body == pydantic_bytes(tasks, limit=50)
    assert b'"created_at":"2026-03-04T04:06:07Z"' in body
