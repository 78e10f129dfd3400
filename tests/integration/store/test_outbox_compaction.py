"""The outbox of a machine that does not sync stays about one entry per row, not one per change."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from atom_desktop.core.ids import IdFactory
from atom_desktop.store import outbox
from atom_desktop.store.automations import AutomationRepository
from atom_desktop.store.database import Database
from atom_desktop.store.models import OutboxRow
from atom_desktop.store.outbox import COMPACT_EVERY, Outbox, OutboxEntry
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository


def _entries(db: Database) -> list[OutboxEntry]:
    return Outbox(db).pending(limit=100_000)


def _greatest_seq(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.max(OutboxRow.seq))) or 0


@pytest.fixture
def every_50(monkeypatch: pytest.MonkeyPatch) -> int:
    """Compaction every 50 entries, so that tests write hundreds of changes, not thousands."""
    monkeypatch.setattr(outbox, "COMPACT_EVERY", 50)
    return 50


def test_a_row_changed_again_and_again_waits_as_its_newest_entry(
    db: Database, every_50: int
) -> None:
    tasks = TaskRepository(db, IdFactory())
    busy, quiet = tasks.create_many([TaskCreate(title="busy"), TaskCreate(title="quiet")])
    first_change = _entries(db)[0].created_at
    for i in range(4 * every_50 + 10):
        tasks.update(busy.id, TaskUpdate(title=f"busy {i}"))
    entries = _entries(db)
    greatest = _greatest_seq(db)
    last_compaction = greatest // every_50 * every_50
    # Up to the last compaction one entry per row; the changes since, one by one, on top.
    older = [e for e in entries if e.seq <= last_compaction]
    assert [(e.entity_id, e.seq) for e in older] == [(quiet.id, 2), (busy.id, last_compaction)]
    assert len(entries) - len(older) == greatest - last_compaction
    assert entries[-1].seq == greatest
    assert entries[-1].payload["title"] == f"busy {4 * every_50 + 9}"
    # The row has waited since its first change, and the queue says so.
    assert Outbox(db).oldest() == first_change
    stamps = [e.hlc for e in entries]
    assert stamps == sorted(set(stamps))


def test_a_tombstone_replaces_the_entries_of_the_row_it_deletes(
    db: Database, every_50: int
) -> None:
    automations = AutomationRepository(db, IdFactory())
    spec = {"name": "a", "triggers": [], "steps": [{"type": "notify", "title": "x"}]}
    made = automations.create(spec)
    for i in range(every_50 // 2):
        automations.replace(made.id, {**spec, "name": f"a{i}"})
    automations.delete(made.id)
    tasks = TaskRepository(db, IdFactory())
    tasks.create_many([TaskCreate(title=f"t{i}") for i in range(every_50 // 2)])
    entries = _entries(db)
    assert [(e.op, e.payload) for e in entries if e.entity == "automation"] == [("delete", {})]
    assert len(entries) == 1 + every_50 // 2


def test_run_summaries_beyond_the_cap_are_dropped_oldest_first(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Small numbers, so that the test writes a hundred runs, not tens of thousands.
    monkeypatch.setattr(outbox, "COMPACT_EVERY", 20)
    monkeypatch.setattr(outbox, "RUN_SUMMARIES_KEPT", 30)
    runs = RunRepository(db)
    ids = IdFactory()
    task = TaskRepository(db, IdFactory()).create(TaskCreate(title="kept"))
    made = []
    for i in range(100):
        run = runs.create(
            id=ids.new(), source="api", requester=None, argv=["echo", str(i)], shell=None,
            cwd="/tmp", env_names=[],
        )  # fmt: skip
        runs.update(run.id, status="running")
        runs.update(run.id, status="succeeded", exit_code=0)
        made.append(run.id)
    entries = _entries(db)
    last_compaction = _greatest_seq(db) // 20 * 20
    summaries = [e for e in entries if e.entity == "run"]
    compacted = [e.entity_id for e in summaries if e.seq <= last_compaction]
    # Up to the last compaction: the cap's worth of the newest runs, one entry each.
    assert len(compacted) == 30
    assert compacted == sorted(set(compacted))  # run ids grow with time
    # Since then: at most the 20 entries written after it.
    assert len(summaries) - len(compacted) <= 20
    assert {e.entity_id for e in summaries} <= set(made[-(30 + 20) :])
    assert summaries[-1].entity_id == made[-1]
    assert summaries[-1].payload["status"] == "succeeded"
    # The task's change is no run summary and is never dropped.
    assert [e.entity_id for e in entries if e.entity == "task"] == [task.id]
    assert "oldest were dropped unsent" in caplog.text
    assert runs.count() == 100  # the runs themselves all stay


def test_rows_changed_once_keep_every_entry(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    TaskRepository(db, IdFactory()).create_many(
        [TaskCreate(title=f"t{i}") for i in range(COMPACT_EVERY + 1)]
    )
    assert len(_entries(db)) == COMPACT_EVERY + 1
    assert "dropped" not in caplog.text
