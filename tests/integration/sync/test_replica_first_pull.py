"""A first pull's page: tasks new here take the short way, and end as applied one by one."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atom_desktop.core.hlc import pack
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.replica import LOST, REJECTED, ApplyResult, RemoteRow, SyncReplica
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository
from tests.integration.sync.test_replica_pages import _task_json

#: A wall clock far ahead of the real one: pulled stamps newer than any made here.
LATER = 2_000_000_000_000


def _task(task_id: str, title: str, **fields: Any) -> dict[str, Any]:
    """A task's data as a device sends it (its creation time with microseconds)."""
    sent = json.loads(_task_json(task_id, title))
    return {**sent, "created_at": "2033-05-18T03:33:20.123456+00:00", **fields}


class Page:
    """Rows in change order, each stamped later than the one before."""

    def __init__(self) -> None:
        self.rows: list[RemoteRow] = []

    def put(self, task_id: str, title: str = "", *, deleted: bool = False, **fields: Any) -> None:
        change = len(self.rows) + 1
        data = {} if deleted else _task(task_id, title, **fields)
        stamp = pack(LATER + change, 0)
        self.rows.append(RemoteRow("task", task_id, data, stamp, "elsewhere", deleted, change))


def _keep(remote: dict[str, Any], local: dict[str, Any] | None) -> dict[str, Any]:
    return remote


def _state(db: Database) -> dict[str, Any]:
    """The tables a pull writes, as stored (times and tags as their text)."""
    with db.read() as session:
        conn = session.connection()

        def rows(query: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in conn.exec_driver_sql(query)]

        return {
            "tasks": rows("SELECT * FROM tasks ORDER BY id"),
            "found": rows(
                "SELECT t.id FROM tasks_fts f JOIN tasks t ON t.rowid = f.rowid "
                "WHERE tasks_fts MATCH 'renamed' ORDER BY t.id"
            ),
            "versions": rows("SELECT * FROM sync_versions ORDER BY entity, entity_id"),
            "conflicts": rows(
                "SELECT entity, entity_id, op, payload, hlc, reason FROM sync_conflicts ORDER BY id"
            ),
            "outbox": rows("SELECT seq, entity_id, op FROM outbox ORDER BY seq"),
        }


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Database, Database, dict[str, str]]]:
    """Two copies of one store holding a few local tasks (pending, not pushed): their ids."""
    key = os.urandom(32)
    first = Database.open(tmp_path / "first.db", key)
    made = TaskRepository(first, IdFactory()).create_many(
        [
            TaskCreate(title="holds t1", source="todoist", external_id="t1"),
            TaskCreate(title="holds j1", source="jira", external_id="j1"),
        ]
    )
    first.close()
    for suffix in ("", "-wal", "-shm"):
        source = tmp_path / f"first.db{suffix}"
        if source.exists():
            shutil.copy(source, tmp_path / f"second.db{suffix}")
    one, two = Database.open(tmp_path / "first.db", key), Database.open(tmp_path / "second.db", key)
    yield one, two, {"t1": made[0].id, "j1": made[1].id}
    one.close()
    two.close()


def test_new_tasks_mixed_with_ones_that_meet_something_end_as_applied_one_by_one(
    stores: tuple[Database, Database, dict[str, str]],
) -> None:
    whole, rows, holders = stores
    page = Page()
    page.put("n1", "plain renamed", tags=["a", "b"])
    # Several versions of a task new here, one of them a tombstone.
    page.put("n2", "first")
    page.put("n2", "second renamed", priority=2)
    page.put("n2", deleted=True)
    page.put("n2", "third renamed")
    # Two new tasks with one external id: the second is refused.
    page.put("x1", "takes g1", source="github", external_id="g1")
    page.put("x2", "also g1", source="github", external_id="g1")
    # An external id a task here holds: refused, the local task stays.
    page.put("h1", "wants t1", source="todoist", external_id="t1")
    # An external id freed by a pulled delete, then taken.
    page.put(holders["j1"], deleted=True)
    page.put("j2", "takes j1 renamed", source="jira", external_id="j1")
    page.put("gone", deleted=True)  # never here: only its version is kept
    page.put("bad", "bogus status", status="bogus")
    page.put("odd-tags", "tags", tags=[1])
    page.put("nested-tags", "tags", tags=[["a"]])
    # Times in other forms than a device's own, tags that JSON escapes.
    page.put(
        "times",
        "times renamed",
        tags=["naïve"],
        created_at="2033-05-18T03:33:20Z",
        updated_at="2033-05-18T05:33:20.5+02:00",
        due_at="2033-05-18T03:33:20.000000+00:00",
    )

    replica = SyncReplica(whole)
    applied = replica.apply(page.rows, len(page.rows), _keep)
    one_by_one = ApplyResult()
    for row in page.rows:
        result = SyncReplica(rows).apply([row], row.change_id, _keep)
        one_by_one.changed += result.changed
        one_by_one.conflicts += result.conflicts
        one_by_one.skipped += result.skipped
    assert applied == one_by_one
    assert _state(whole) == _state(rows)

    assert [(entity_id, op) for _, entity_id, op in applied.changed] == [
        ("n1", "created"),
        ("n2", "created"),
        ("n2", "updated"),
        ("n2", "deleted"),
        ("n2", "created"),
        ("x1", "created"),
        (holders["j1"], "deleted"),
        ("j2", "created"),
        ("times", "created"),
    ]
    refused = [(c.entity_id, c.reason) for c in reversed(replica.conflicts())]
    # The local task that held j1 was never pushed: its creation lost to the delete.
    assert refused == [
        ("x2", REJECTED),
        ("h1", REJECTED),
        (holders["j1"], LOST),
        ("bad", REJECTED),
        ("odd-tags", REJECTED),
        ("nested-tags", REJECTED),
    ]
    tasks = {row[0]: row for row in _state(whole)["tasks"]}
    assert set(tasks) == {"n1", "n2", "x1", "j2", "times", holders["t1"]}
    with whole.read() as session:
        stored = session.connection().exec_driver_sql(
            "SELECT title, tags, created_at, updated_at, due_at FROM tasks "
            "WHERE id IN ('n1', 'times') ORDER BY id"
        )
        assert [tuple(row) for row in stored] == [
            (
                "plain renamed",
                '["a", "b"]',
                "2033-05-18 03:33:20.123456",
                "2033-05-18 03:33:20",
                None,
            ),
            (
                "times renamed",
                '["na\\u00efve"]',
                "2033-05-18 03:33:20",
                "2033-05-18 03:33:20.500000",
                "2033-05-18 03:33:20",
            ),
        ]
    assert _state(whole)["found"] == [("j2",), ("n1",), ("n2",), ("times",)]
    # A refused version leaves none; a tombstone of a task never here leaves its own.
    versions = {row[1] for row in _state(whole)["versions"] if row[0] == "task"}
    assert {"n1", "n2", "x1", "gone"} <= versions
    assert versions.isdisjoint({"x2", "h1", "bad", "odd-tags", "nested-tags"})
