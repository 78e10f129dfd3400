"""The sync engine between real SQLCipher stores and a real PostgreSQL: push, pull, conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from atom_desktop.core.hlc import pack
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.sync.push import push_batch
from tests.support.sync_agents import Agent

MakeAgent = Callable[..., Agent]


class _SameId(IdFactory):
    """Hands out one id, as a device crafting another tenant's id would."""

    def __init__(self, fixed: str) -> None:
        super().__init__()
        self._fixed = fixed

    def new(self) -> str:
        return self._fixed


def _server_rows(agent: Agent, table: str) -> dict[str, tuple[Any, ...]]:
    """The rows of the agent's tenant in ``table``: id -> (data, hlc, device, deleted, change)."""
    with agent.connect() as conn:
        rows = conn.execute(
            f"SELECT id, data, hlc, device_id, deleted, change_id FROM atom_sync.{table}"
        ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _spec(name: str, **step: Any) -> dict[str, Any]:
    return {"name": name, "enabled": True, "steps": [{"type": "shell", "shell": "true", **step}]}


def test_two_devices_of_a_tenant_converge(make_agent: MakeAgent) -> None:
    a, b = make_agent("a"), make_agent("b")
    kept, changed, gone = a.tasks.create_many(
        [TaskCreate(title="kept", tags=["x"]), TaskCreate(title="old"), TaskCreate(title="gone")]
    )
    a.tasks.update(changed.id, TaskUpdate(title="new", priority=3))
    a.tasks.delete(gone.id)
    auto = a.automations.create(_spec("nightly"))

    pushed = a.engine.push_once()
    assert pushed.sent == 6  # every entry, though only the newest of each row is upserted
    assert pushed.applied == 4 and pushed.conflicts == 0
    assert a.outbox.count() == 0

    pulled = b.engine.pull_once()
    assert b.all_tasks() == a.all_tasks()
    assert set(b.all_tasks()) == {kept.id, changed.id}
    assert b.automations.get(auto.id).spec == auto.spec
    # A pulled change is never pushed back.
    assert b.outbox.count() == 0
    server = [*_server_rows(a, "tasks").values(), *_server_rows(a, "automations").values()]
    assert pulled.cursor == max(row[4] for row in server)
    # Nothing new: a second pull reads nothing and moves nothing.
    again = b.engine.pull_once()
    assert (again.received, again.cursor) == (0, pulled.cursor)
    # A's own rows come back to A as echoes and change nothing there.
    before = a.all_tasks()
    echo = a.engine.pull_once()
    assert echo.changed == [] and a.all_tasks() == before and a.outbox.count() == 0


def test_a_batch_sent_again_after_a_crash_changes_nothing_on_the_server(
    make_agent: MakeAgent,
) -> None:
    a = make_agent("a")
    for i in range(3):
        task = a.tasks.create(TaskCreate(title=f"t{i}"))
    a.tasks.delete(task.id)
    batch = a.engine.replica.pending(100)
    device_id = a.engine.replica.device_id()
    # The server commits the batch, then the agent dies before it cleans its outbox.
    with a.connect() as conn:
        push_batch(conn, device_id, batch)
    committed = _server_rows(a, "tasks")
    assert a.outbox.count() == 4

    result = a.engine.push_once()
    assert result.sent == 4 and result.applied == 0 and result.conflicts == 0
    assert _server_rows(a, "tasks") == committed  # not even a change_id moved
    assert a.outbox.count() == 0


def test_a_delete_travels_as_a_tombstone_and_an_older_version_cannot_revive_it(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a"), make_agent("b")
    task = a.tasks.create(TaskCreate(title="short-lived", notes="private"))
    (created,) = a.engine.replica.pending(10)
    a.engine.sync_once()
    b.engine.pull_once()
    assert task.id in b.all_tasks()

    a.tasks.delete(task.id)
    a.engine.push_once()
    data, _, _, deleted, _ = _server_rows(a, "tasks")[task.id]
    assert deleted is True and data == {}  # no content left on the shared server
    assert b.engine.pull_once().changed == [("task", task.id, "deleted")]
    assert task.id not in b.all_tasks()

    # The version the tombstone replaced, sent again (a late duplicate), changes nothing.
    tombstone = _server_rows(a, "tasks")[task.id]
    with a.connect() as conn:
        late = push_batch(conn, a.engine.replica.device_id(), [created])
    assert late.applied == 0 and late.lost == []
    assert _server_rows(a, "tasks")[task.id] == tombstone
    assert b.engine.pull_once().received == 0
    assert task.id not in b.all_tasks()


@pytest.mark.parametrize("order", ["both push, then pull", "the loser pulls first"])
def test_concurrent_edits_resolve_by_clock_the_same_way_and_the_loser_is_kept(
    make_agent: MakeAgent, order: str
) -> None:
    a, b = make_agent("a"), make_agent("b")
    task = a.tasks.create(TaskCreate(title="base"))
    a.engine.push_once()
    b.engine.pull_once()
    # B's clock runs an hour behind A's: A's edit is the later one by HLC,
    # even though B makes (and, in the first order, pushes) its edit after A.
    a.db.wall_ms = lambda: 2_000_000_000_000 + 3_600_000
    b.db.wall_ms = lambda: 2_000_000_000_000
    a.tasks.update(task.id, TaskUpdate(title="from a"))
    b.tasks.update(task.id, TaskUpdate(title="from b", notes="b's notes"))

    if order == "both push, then pull":
        b.engine.push_once()  # B first: the server takes it (newer than base) ...
        a.engine.push_once()  # ... and then A's newer one
        b_pushed = b.engine.push_once()
        assert b_pushed.sent == 0
    else:
        a.engine.push_once()
        pulled = b.engine.pull_once()  # B's unpushed edit loses here
        assert pulled.conflicts == 1
        assert b.outbox.count() == 0  # and is not sent
    a.engine.sync_once()
    b.engine.sync_once()

    assert a.all_tasks() == b.all_tasks()
    assert a.all_tasks()[task.id].title == "from a"
    assert _server_rows(a, "tasks")[task.id][0]["title"] == "from a"
    if order == "the loser pulls first":
        (conflict,) = b.engine.replica.conflicts()
        assert conflict.entity_id == task.id
        assert conflict.payload["title"] == "from b" and conflict.payload["notes"] == "b's notes"
        assert conflict.winner_device_id == a.engine.replica.device_id()
        assert a.engine.replica.conflicts() == []
    # B's edit reached the server first and was then overwritten by a newer
    # one: an ordinary update, not a conflict, so no inbox holds it here.


def test_a_push_that_loses_on_the_server_keeps_the_local_change_in_the_inbox(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a"), make_agent("b")
    task = a.tasks.create(TaskCreate(title="base"))
    a.engine.push_once()
    b.engine.pull_once()
    a.db.wall_ms = lambda: 2_000_000_000_000 + 3_600_000
    b.db.wall_ms = lambda: 2_000_000_000_000
    a.tasks.update(task.id, TaskUpdate(title="from a"))
    b.tasks.update(task.id, TaskUpdate(title="from b"))
    a.engine.push_once()

    result = b.engine.push_once()
    assert (result.sent, result.applied, result.conflicts) == (1, 0, 1)
    (conflict,) = b.engine.replica.conflicts()
    assert conflict.payload["title"] == "from b"
    b.engine.pull_once()
    assert b.all_tasks()[task.id].title == "from a"
    assert b.engine.replica.conflict_count() == 1  # filed once, not again by the pull
    # The clock moved past the winner: B's next edit is newer than A's.
    b.tasks.update(task.id, TaskUpdate(title="b again"))
    b.engine.push_once()
    a.engine.pull_once()
    assert a.all_tasks()[task.id].title == "b again"


def test_equal_clocks_are_ordered_by_device_id_on_both_devices(make_agent: MakeAgent) -> None:
    a, b = make_agent("a"), make_agent("b")
    task = a.tasks.create(TaskCreate(title="base"))
    a.engine.push_once()
    b.engine.pull_once()
    # Both clocks stand at the same instant with the same last stamp: the
    # next stamps are equal, and only the device ids tell them apart.
    for agent in (a, b):
        agent.db.wall_ms = lambda: 2_000_000_000_000
        with agent.db.read() as session:
            agent.db.change_clock(session).clock.observe(pack(2_000_000_000_000, 5))
    a.tasks.update(task.id, TaskUpdate(title="a"))
    b.tasks.update(task.id, TaskUpdate(title="b"))
    assert a.outbox.pending()[-1].hlc == b.outbox.pending()[-1].hlc
    for agent in (a, b, a, b):
        agent.engine.sync_once()
    winner = max((a, b), key=lambda agent: agent.engine.replica.device_id())
    assert a.all_tasks() == b.all_tasks()
    assert a.all_tasks()[task.id].title == winner.name


def test_tenants_stay_apart_through_the_engine_even_with_the_same_ids(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a", "acme"), make_agent("b", "acme")
    other = make_agent("other", "globex")
    mine = a.tasks.create(TaskCreate(title="acme's plan"))
    a.engine.push_once()
    # Another tenant's device writes a row with the very same id.
    TaskRepository(other.db, _SameId(mine.id)).create(TaskCreate(title="globex's plan"))
    assert other.engine.push_once().applied == 1

    assert _server_rows(a, "tasks")[mine.id][0]["title"] == "acme's plan"
    assert _server_rows(other, "tasks")[mine.id][0]["title"] == "globex's plan"
    b.engine.pull_once()
    other.engine.pull_once()
    assert b.task_titles() == {mine.id: "acme's plan"}
    assert other.task_titles() == {mine.id: "globex's plan"}


def test_automation_secrets_never_leave_the_device_and_survive_an_edit_elsewhere(
    make_agent: MakeAgent,
) -> None:
    a, b = make_agent("a"), make_agent("b")
    spec = {
        "name": "deploy",
        "enabled": True,
        "steps": [
            {"type": "shell", "shell": "deploy.sh", "env": {"DEPLOY_TOKEN": "s3cr3t-deploy-value"}},
            {
                "type": "http",
                "url": "https://bot:hunter2hunter2@example.com/hook",
                "headers": {"Authorization": "Bearer abcdefghijkl", "Accept": "text/plain"},
            },
        ],
    }
    auto = a.automations.create(spec)
    a.engine.push_once()
    with a.connect() as conn:
        (text,) = conn.execute("SELECT data::text FROM atom_sync.automations").fetchone() or ("",)
    for secret in ("s3cr3t-deploy-value", "hunter2hunter2", "abcdefghijkl"):
        assert secret not in text
    assert "DEPLOY_TOKEN" in text and "text/plain" in text

    b.engine.pull_once()
    at_b = b.automations.get(auto.id).spec
    assert at_b["steps"][0]["env"] == {"DEPLOY_TOKEN": "***"}
    # B renames it; A takes the new name and keeps its own secrets.
    b.automations.replace(auto.id, {**at_b, "name": "deploy (prod)"})
    b.engine.push_once()
    a.engine.pull_once()
    at_a = a.automations.get(auto.id)
    assert at_a.name == "deploy (prod)"
    assert at_a.spec["steps"] == spec["steps"]


def test_run_summaries_go_one_way_and_carry_no_secret(make_agent: MakeAgent) -> None:
    a, b = make_agent("a"), make_agent("b")
    runs = RunRepository(a.db)
    run = runs.create(
        id="0190a0a0-0000-7000-8000-000000000001", source="api", requester=None,
        argv=None, shell="curl -H 'Authorization: Bearer abcdefghijkl' x", cwd="/",
        env_names=[],
    )  # fmt: skip
    runs.update(run.id, status="succeeded", exit_code=0)
    a.engine.push_once()
    with a.connect() as conn:
        row = conn.execute(
            "SELECT command, status, exit_code, device_id FROM atom_sync.run_summaries"
        ).fetchone()
    assert row is not None
    command, status, exit_code, device_id = row
    assert (status, exit_code, device_id) == ("succeeded", 0, a.engine.replica.device_id())
    assert "abcdefghijkl" not in command and command.startswith("curl")
    assert b.engine.pull_once().received == 0


def test_a_pull_in_small_pages_gets_every_change_of_every_table(make_agent: MakeAgent) -> None:
    a = make_agent("a")
    b = make_agent("b", page_size=2)
    created = a.tasks.create_many([TaskCreate(title=f"t{i}") for i in range(5)])
    for i in range(3):
        a.automations.create(_spec(f"auto {i}"))
    a.tasks.update(created[0].id, TaskUpdate(title="t0 again"))
    a.engine.push_once()
    result = b.engine.pull_once()
    assert b.task_titles() == a.task_titles()
    assert {x.name for x in b.automations.all()} == {"auto 0", "auto 1", "auto 2"}
    assert result.received == 8
    assert b.engine.replica.cursor() == result.cursor
