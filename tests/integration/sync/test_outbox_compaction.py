"""A compacted outbox still brings every row to the server once, at its newest version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from atom_desktop.core.ids import IdFactory
from atom_desktop.store import outbox
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.sync.push import push_batch
from tests.support.sync_agents import Agent

MakeAgent = Callable[..., Agent]


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compaction every 8 entries and 5 run summaries kept, so a few changes show it."""
    monkeypatch.setattr(outbox, "COMPACT_EVERY", 8)
    monkeypatch.setattr(outbox, "RUN_SUMMARIES_KEPT", 5)


def _server(agent: Agent, table: str) -> dict[str, tuple[Any, ...]]:
    """id -> (data, hlc, deleted) of the agent's tenant in ``table``."""
    with agent.connect() as conn:
        rows = conn.execute(f"SELECT id, data, hlc, deleted FROM atom_sync.{table}").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_changes_queued_while_sync_was_off_arrive_once_at_their_newest(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a"), make_agent("b")
    # Sync is off: A works for a while and its engine never runs.
    kept, gone = a.tasks.create_many([TaskCreate(title="kept 0"), TaskCreate(title="gone")])
    for i in range(1, 30):
        a.tasks.update(kept.id, TaskUpdate(title=f"kept {i}"))
    a.tasks.delete(gone.id)
    spec = {"name": "n0", "enabled": True, "steps": [{"type": "shell", "shell": "true"}]}
    auto = a.automations.create(spec)
    for i in range(1, 12):
        a.automations.replace(auto.id, {**spec, "name": f"n{i}"})
    runs, ids = RunRepository(a.db), IdFactory()
    made = []
    for i in range(12):
        run = runs.create(
            id=ids.new(), source="api", requester=None, argv=["echo", str(i)], shell=None,
            cwd="/tmp", env_names=[],
        )  # fmt: skip
        runs.update(run.id, status="succeeded", exit_code=0)
        made.append(run.id)
    queued = a.outbox.count()
    assert queued < 2 + 12 + 12 + 29 + 1  # fewer entries than changes

    # Sync is turned on.
    pushed = a.engine.push_once()
    assert pushed.sent == queued and pushed.conflicts == 0
    assert a.outbox.count() == 0
    tasks = _server(a, "tasks")
    assert tasks[kept.id][0]["title"] == "kept 29" and tasks[kept.id][2] is False
    assert tasks[gone.id][2] is True  # the tombstone went, not the task it replaced
    assert len(tasks) == 2
    automations = _server(a, "automations")
    assert [data["name"] for data, _, _ in automations.values()] == ["n11"]
    with a.connect() as conn:
        statuses = dict(conn.execute("SELECT id, status FROM atom_sync.run_summaries").fetchall())
    # The newest runs arrived with their last status; the oldest beyond the cap did not.
    assert made[-1] in statuses and set(statuses) <= set(made) and len(statuses) < len(made)
    assert set(statuses.values()) == {"succeeded"}

    b.engine.pull_once()
    assert b.task_titles() == {kept.id: "kept 29"}
    assert [r.name for r in b.automations.all()] == ["n11"]
    assert a.engine.push_once().sent == 0  # nothing left, nothing sent twice


def test_a_compaction_between_a_push_and_its_acknowledgement_loses_nothing(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a"), make_agent("b")
    task = a.tasks.create(TaskCreate(title="v0"))
    device_id = a.engine.replica.device_id()
    # The push reads its batch (the newest entry of all among it) ...
    batch = a.engine.replica.pending(100)
    assert [e.entity_id for e in batch] == [task.id]
    # ... meanwhile the task changes, and a compaction drops the entry being sent ...
    for i in range(1, 10):
        a.tasks.update(task.id, TaskUpdate(title=f"v{i}"))
    assert batch[0].seq not in [e.seq for e in a.outbox.pending(100)]
    # ... the server commits the batch and the push acknowledges it.
    with a.connect() as conn:
        outcome = push_batch(conn, device_id, batch)
    a.engine.replica.acknowledge(batch, outcome.lost)
    assert _server(a, "tasks")[task.id][0]["title"] == "v0"

    # The newest change still waits, and the next push takes it.
    waiting = a.outbox.pending(100)
    assert waiting and waiting[-1].payload["title"] == "v9"
    pushed = a.engine.push_once()
    assert pushed.conflicts == 0
    assert a.outbox.count() == 0
    assert _server(a, "tasks")[task.id][0]["title"] == "v9"
    b.engine.pull_once()
    assert b.task_titles() == {task.id: "v9"}
