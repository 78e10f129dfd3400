"""A pulled page is applied as its rows one by one would be: every case mixed in one page."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from atom_desktop.core.hlc import pack
from atom_desktop.store.database import Database
from atom_desktop.store.models import OutboxRow, SyncVersionRow
from atom_desktop.store.replica import LOST, REJECTED
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from tests.support.sync_agents import Agent, build_agent
from tests.support.sync_server import DeviceFactory, SyncDatabase

#: Wall clocks far ahead of the real one, so each device's next stamps are known to be later.
LATER = 2_000_000_000_000
HOUR = 3_600_000


class Agents:
    """Agents over stores whose keys the test knows, so a store can be copied and reopened."""

    def __init__(self, server: SyncDatabase, make_device: DeviceFactory, where: Path) -> None:
        self._server = server
        self._make_device = make_device
        self._where = where
        self._open: list[Agent] = []

    def new(self, name: str, **engine: Any) -> tuple[Agent, bytes]:
        key = os.urandom(32)
        device = self._make_device(name, "acme")
        agent = build_agent(name, device, self._open_db(name, key), self._server, **engine)
        self._open.append(agent)
        return agent, key

    def twins(self, agent: Agent, key: bytes, **engines: dict[str, Any]) -> list[Agent]:
        """Closes ``agent`` and opens a copy of its store per entry of ``engines``."""
        agent.engine.close()
        agent.db.close()
        self._open.remove(agent)
        copies = []
        for name, options in engines.items():
            for suffix in ("", "-wal", "-shm"):
                source = self._where / f"{agent.name}.db{suffix}"
                if source.exists():
                    shutil.copy(source, self._where / f"{name}.db{suffix}")
            twin = build_agent(
                name, agent.device, self._open_db(name, key), self._server, **options
            )
            self._open.append(twin)
            copies.append(twin)
        return copies

    def _open_db(self, name: str, key: bytes) -> Database:
        return Database.open(self._where / f"{name}.db", key)

    def close(self) -> None:
        for agent in self._open:
            agent.engine.close()
            agent.db.close()


@pytest.fixture
def agents(synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path) -> Iterator[Agents]:
    made = Agents(synced, make_device, tmp_path)
    yield made
    made.close()


def _task_json(task_id: str, title: str, **fields: Any) -> str:
    """A task as a device sends it."""
    data = {
        "id": task_id,
        "title": title,
        "notes": "",
        "status": "todo",
        "priority": 0,
        "due_at": None,
        "tags": [],
        "source": "local",
        "external_id": None,
        "created_at": "2033-05-18T03:33:20+00:00",
        "updated_at": "2033-05-18T03:33:20+00:00",
        **fields,
    }
    return json.dumps(data)


def _put(agent: Agent, task_id: str, data: str, hlc: int) -> None:
    """A task version written on the server by another device of the tenant."""
    with agent.connect() as conn:
        conn.execute(
            "INSERT INTO atom_sync.tasks (id, data, hlc, device_id, deleted) "
            "VALUES (%s, %s::jsonb, %s, 'elsewhere', false)",
            (task_id, data, hlc),
        )


def _state(agent: Agent) -> dict[str, Any]:
    """Everything a pull may change here, without what differs between copies by nature."""
    with agent.db.read() as session:
        versions = session.execute(
            select(SyncVersionRow.entity, SyncVersionRow.entity_id, SyncVersionRow.hlc)
            .add_columns(SyncVersionRow.device_id, SyncVersionRow.deleted)
            .order_by(SyncVersionRow.entity, SyncVersionRow.entity_id)
        ).all()
        outbox = session.execute(
            select(OutboxRow.seq, OutboxRow.entity_id, OutboxRow.op, OutboxRow.payload)
        ).all()
    return {
        "tasks": agent.all_tasks(),
        "automations": {a.id: (a.name, a.spec) for a in agent.automations.all()},
        "found": sorted(t.id for t in agent.tasks.search("renamed")),
        "conflicts": [
            (c.entity, c.entity_id, c.op, c.payload, c.hlc, c.winner_hlc, c.reason)
            for c in agent.engine.replica.conflicts()
        ],
        "versions": versions,
        "outbox": outbox,
        "cursor": agent.engine.replica.cursor(),
    }


def test_a_page_mixing_every_case_ends_as_the_same_rows_applied_one_by_one(
    agents: Agents,
) -> None:
    a, _ = agents.new("a")
    b, b_key = agents.new("b")
    keep, gone, plain, lose, win, freed, held = a.tasks.create_many(
        [
            TaskCreate(title="keep"),
            TaskCreate(title="gone"),
            TaskCreate(title="plain"),
            TaskCreate(title="base"),
            TaskCreate(title="base"),
            TaskCreate(title="frees e1", source="todoist", external_id="e1"),
            TaskCreate(title="holds e2", source="todoist", external_id="e2"),
        ]
    )
    secret = {"DEPLOY_TOKEN": "s3cr3t-deploy-value"}
    auto = b.automations.create(
        {
            "name": "deploy",
            "enabled": True,
            "steps": [{"type": "shell", "shell": "x", "env": secret}],
        }
    )
    a.engine.push_once()
    b.engine.sync_once()
    a.engine.pull_once()
    mine = b.tasks.create(TaskCreate(title="b's echo"))
    b.tasks.create(TaskCreate(title="owns g1 here", source="github", external_id="g1"))
    b.engine.push_once()  # both come back to B in the page, as echoes

    # B's edits: one older than A's edit of the row, one newer; neither pushed.
    b.db.wall_ms = lambda: LATER
    b.tasks.update(lose.id, TaskUpdate(title="lost on b", notes="b's notes"))
    b.db.wall_ms = lambda: LATER + 2 * HOUR
    b.tasks.update(win.id, TaskUpdate(title="won on b"))
    b.tasks.create(TaskCreate(title="only on b"))
    a.db.wall_ms = lambda: LATER + HOUR
    a.tasks.update(keep.id, TaskUpdate(title="keep renamed", priority=3, tags=["x"]))
    a.tasks.delete(gone.id)
    a.tasks.update(lose.id, TaskUpdate(title="lose renamed"))
    a.tasks.update(win.id, TaskUpdate(title="win renamed"))
    a.tasks.update(plain.id, TaskUpdate(title="plain renamed"))
    a.automations.replace(auto.id, {**a.automations.get(auto.id).spec, "name": "deploy (prod)"})
    fresh = a.automations.create(
        {"name": "new", "enabled": False, "steps": [{"type": "shell", "shell": "true"}]}
    )
    # A task that disappears again before B pulls: B meets only its tombstone.
    short = a.tasks.create(TaskCreate(title="short-lived"))
    a.tasks.delete(short.id)
    a.tasks.delete(freed.id)
    a.engine.push_once()
    # e1 is taken after its holder's delete: fine. e2 is taken before its holder's delete:
    # one by one, the holder still has it then, so the row is refused.
    taker = a.tasks.create(TaskCreate(title="takes e1 renamed", source="todoist", external_id="e1"))
    a.engine.push_once()
    stamp = pack(LATER + 3 * HOUR, 0)
    _put(a, "early-e2", _task_json("early-e2", "early", source="todoist", external_id="e2"), stamp)
    _put(a, "dup-g1", _task_json("dup-g1", "dup", source="github", external_id="g1"), stamp)
    _put(a, "bad", _task_json("bad", "bad", status="bogus"), stamp)
    a.tasks.delete(held.id)
    a.engine.push_once()

    one_by_one, whole = agents.twins(b, b_key, b_rows={"page_size": 1}, b_page={})
    rows = one_by_one.engine.pull_once()
    page = whole.engine.pull_once()
    assert (page.received, page.conflicts, page.changed) == (
        rows.received,
        rows.conflicts,
        rows.changed,
    )
    assert _state(whole) == _state(one_by_one)

    # And what that state is.
    # Tasks in change order (automations come in their own order among them).
    assert [change for change in page.changed if change[0] == "task"] == [
        ("task", keep.id, "updated"),
        ("task", gone.id, "deleted"),
        ("task", lose.id, "updated"),
        ("task", plain.id, "updated"),
        ("task", freed.id, "deleted"),
        ("task", taker.id, "created"),
        ("task", held.id, "deleted"),
    ]
    assert {change for change in page.changed if change[0] == "automation"} == {
        ("automation", auto.id, "updated"),
        ("automation", fresh.id, "created"),
    }
    tasks = whole.all_tasks()
    assert tasks[keep.id] == a.all_tasks()[keep.id]
    assert tasks[lose.id].title == "lose renamed"
    assert tasks[win.id].title == "won on b"
    assert gone.id not in tasks and held.id not in tasks and short.id not in tasks
    assert {"early-e2", "dup-g1", "bad"}.isdisjoint(tasks)
    assert tasks[mine.id].title == "b's echo"
    # The search index follows the rows written in bulk: new titles in, old ones out.
    assert set(_state(whole)["found"]) == {keep.id, lose.id, plain.id, taker.id}
    assert whole.tasks.search("gone") == [] and whole.tasks.search("base") == []
    at_b = whole.automations.get(auto.id)
    assert at_b.name == "deploy (prod)" and at_b.spec["steps"][0]["env"] == secret
    assert whole.automations.get(fresh.id).name == "new"

    conflicts = whole.engine.replica.conflicts()
    assert sorted((c.entity_id, c.reason) for c in conflicts) == sorted(
        [(lose.id, LOST), ("early-e2", REJECTED), ("dup-g1", REJECTED), ("bad", REJECTED)]
    )
    lost = next(c for c in conflicts if c.reason == LOST)
    assert lost.payload["title"] == "lost on b" and lost.payload["notes"] == "b's notes"
    why = {c.entity_id: c.payload["why"] for c in conflicts if c.reason == REJECTED}
    assert (
        why["early-e2"] == f"task {held.id} here already has source 'todoist' and external id 'e2'"
    )
    assert "already has source 'github'" in why["dup-g1"] and "bogus" in why["bad"]
    # The losing change is not sent; the winning one and the unrelated one still are.
    assert sorted(e.payload["title"] for e in whole.outbox.pending()) == [
        "only on b",
        "won on b",
    ]
    # Pulled rows are never pushed back: a second pull and a push change nothing on A.
    assert whole.engine.pull_once().changed == []
    pushed = whole.engine.push_once()
    assert pushed.sent == 2


def test_a_page_larger_than_one_statement_is_written_whole(agents: Agents) -> None:
    a, _ = agents.new("a")
    b, _ = agents.new("b")
    made = a.tasks.create_many(TaskCreate(title=f"first{n}") for n in range(450))
    a.engine.push_once()
    pulled = b.engine.pull_once()
    assert pulled.changed == [("task", task.id, "created") for task in made]
    assert b.tasks.count() == 450
    assert [t.id for t in b.tasks.search("first449")] == [made[449].id]

    for task in made[:250]:
        a.tasks.update(task.id, TaskUpdate(title=f"second{task.title[5:]}"))
    for task in made[440:]:
        a.tasks.delete(task.id)
    a.engine.push_once()
    b.engine.pull_once()
    assert b.task_titles() == a.task_titles()
    assert b.tasks.search("first0") == [] and len(b.tasks.search("second")) == 20  # a page
    assert [t.id for t in b.tasks.search("second249")] == [made[249].id]
    assert b.tasks.search("first445") == []
