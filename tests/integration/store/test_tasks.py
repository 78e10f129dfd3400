"""The task repository on a real SQLCipher database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from atom_desktop.core.events import Event, EventBus, TaskChanged
from atom_desktop.store.database import Database
from atom_desktop.store.errors import ConflictError, NotFoundError
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.task_types import TaskCreate, TaskFilter, TaskUpdate
from atom_desktop.store.tasks import InvalidCursorError, TaskRepository, fts_query


def test_create_get_update_delete_with_outbox_and_events(
    tasks: TaskRepository, db: Database, bus: EventBus
) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    due = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    task = tasks.create(
        TaskCreate(
            title="  Pay rent ",
            notes="before the 1st",
            priority=3,
            due_at=due,
            tags=["home", "home", "money"],
        )
    )
    assert task.title == "Pay rent"
    assert task.tags == ("home", "money")
    assert task.due_at == due
    assert task.created_at.tzinfo is UTC
    assert tasks.get(task.id) == task

    updated = tasks.update(task.id, TaskUpdate(status="done"))
    assert updated.status == "done"
    assert updated.title == "Pay rent"  # untouched fields stay
    assert updated.updated_at >= task.updated_at

    cleared = tasks.update(task.id, TaskUpdate(due_at=None))
    assert cleared.due_at is None

    tasks.delete(task.id)
    with pytest.raises(NotFoundError):
        tasks.get(task.id)

    entries = Outbox(db).pending()
    assert [(e.entity, e.entity_id, e.op) for e in entries] == [
        ("task", task.id, "upsert"),
        ("task", task.id, "upsert"),
        ("task", task.id, "upsert"),
        ("task", task.id, "delete"),
    ]
    assert entries[1].payload["status"] == "done"
    assert [e.payload for e in seen] == [
        TaskChanged(task_id=task.id, op=op) for op in ("created", "updated", "updated", "deleted")
    ]


def test_failed_write_leaves_neither_row_nor_outbox_entry(
    tasks: TaskRepository, db: Database
) -> None:
    tasks.create(TaskCreate(title="from github", source="github", external_id="issue-1"))
    outbox_before = Outbox(db).count()
    with pytest.raises(ConflictError, match="external id"):
        tasks.create_many(
            [
                TaskCreate(title="new one", source="github", external_id="issue-2"),
                TaskCreate(title="duplicate", source="github", external_id="issue-1"),
            ]
        )
    assert tasks.count() == 1
    assert Outbox(db).count() == outbox_before


def test_missing_task_is_not_found(tasks: TaskRepository) -> None:
    with pytest.raises(NotFoundError, match="no task"):
        tasks.update("nope", TaskUpdate(title="x"))
    with pytest.raises(NotFoundError):
        tasks.delete("nope")


@pytest.mark.parametrize(
    "data",
    [
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 501},
        {"title": "ok", "status": "blocked"},
        {"title": "ok", "priority": 4},
        {"title": "ok", "due_at": "2026-12-01T09:00:00"},  # no time zone
        {"title": "ok", "tags": [""]},
        {"title": "ok", "source": "Git Hub"},
        {"title": "ok", "colour": "red"},
    ],
)
def test_invalid_input_is_refused_with_the_field_named(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as info:
        TaskCreate.model_validate(data)
    assert info.value.errors()[0]["loc"]


def test_update_cannot_null_a_required_field() -> None:
    with pytest.raises(ValidationError, match="not set to null"):
        TaskUpdate.model_validate({"title": None})


def test_filters(tasks: TaskRepository) -> None:
    now = datetime.now(UTC)
    a = tasks.create(TaskCreate(title="a", status="doing", priority=1, tags=["x"], due_at=now))
    b = tasks.create(
        TaskCreate(title="b", priority=3, tags=["x", "y"], due_at=now + timedelta(days=3))
    )
    c = tasks.create(TaskCreate(title="c", status="done", source="github", external_id="1"))

    def ids(f: TaskFilter) -> set[str]:
        return {t.id for t in tasks.page(f).items}

    assert ids(TaskFilter(statuses=("todo", "doing"))) == {a.id, b.id}
    assert ids(TaskFilter(tag="y")) == {b.id}
    assert ids(TaskFilter(tag="x")) == {a.id, b.id}
    assert ids(TaskFilter(min_priority=2)) == {b.id}
    assert ids(TaskFilter(due_before=now + timedelta(days=1))) == {a.id}
    assert ids(TaskFilter(due_after=now + timedelta(days=1))) == {b.id}
    assert ids(TaskFilter(source="github")) == {c.id}
    assert ids(TaskFilter(statuses=("done",), source="local")) == set()


@pytest.mark.parametrize("order", ["created", "updated"])
def test_cursor_pagination_visits_every_task_once(tasks: TaskRepository, order: str) -> None:
    created = tasks.create_many(TaskCreate(title=f"t{i}") for i in range(53))
    # Touch some so update order differs from creation order.
    for task in created[::5]:
        tasks.update(task.id, TaskUpdate(priority=1))
    seen: list[str] = []
    page = tasks.page(limit=10, order=order)  # type: ignore[arg-type]
    seen += [t.id for t in page.items]
    while page.next_cursor:
        page = tasks.page(limit=10, cursor=page.next_cursor, order=order)  # type: ignore[arg-type]
        seen += [t.id for t in page.items]
    assert len(seen) == 53
    assert set(seen) == {t.id for t in created}
    if order == "created":
        assert seen == sorted(seen, reverse=True)


def test_bad_cursor_is_refused(tasks: TaskRepository) -> None:
    tasks.create_many(TaskCreate(title=f"t{i}") for i in range(3))
    cursor = tasks.page(limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursorError):
        tasks.page(cursor="not-a-cursor")
    with pytest.raises(InvalidCursorError):
        tasks.page(cursor=cursor, order="updated")


def test_full_text_search_over_title_and_notes(tasks: TaskRepository) -> None:
    report = tasks.create(TaskCreate(title="Quarterly report", notes="numbers for the board"))
    cafe = tasks.create(TaskCreate(title="Café visit", notes="meet Zoë about the report"))
    tasks.create(TaskCreate(title="Groceries", notes="milk, eggs"))
    assert {t.id for t in tasks.search("report")} == {report.id, cafe.id}
    assert tasks.search("report")[0].id == report.id  # title matches rank higher
    assert [t.id for t in tasks.search("cafe")] == [cafe.id]  # diacritics folded
    assert [t.id for t in tasks.search("zoe")] == [cafe.id]
    assert [t.id for t in tasks.search("quart")] == [report.id]  # prefixes
    assert [t.id for t in tasks.search("board numbers")] == [report.id]  # all words
    assert {t.id for t in tasks.page(TaskFilter(text="report")).items} == {report.id, cafe.id}
    # The index follows edits and deletes.
    tasks.update(report.id, TaskUpdate(title="Annual summary", notes=""))
    assert [t.id for t in tasks.search("report")] == [cafe.id]
    tasks.delete(cafe.id)
    assert tasks.search("report") == []
    assert tasks.search("   ") == []


@settings(
    max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(st.text())
def test_any_typed_text_is_a_safe_search(tasks: TaskRepository, typed: str) -> None:
    query = fts_query(typed)
    if query is not None:
        assert query.count('"') % 2 == 0
    tasks.search(typed)
    tasks.page(TaskFilter(text=typed))


def test_count_honours_the_same_filters_as_a_listing(tasks: TaskRepository) -> None:
    tasks.create(TaskCreate(title="a", status="todo"))
    tasks.create(TaskCreate(title="b", status="doing"))
    tasks.create(TaskCreate(title="c", status="done"))
    tasks.create(TaskCreate(title="report d", status="todo"))
    assert tasks.count() == 4
    assert tasks.count(TaskFilter(statuses=("todo", "doing"))) == 3
    assert tasks.count(TaskFilter(text="report")) == 1
