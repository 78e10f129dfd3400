"""Faults between the engine and a real PostgreSQL, through a loopback proxy the test controls.

Links that stall or drop in the middle of a batch, a commit whose
confirmation never arrives, clocks days apart, rights revoked mid-session:
after the retries the server holds every acknowledged change exactly once
(no row lost, none applied twice, no ``change_id`` moved by a re-send).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from psycopg import sql

from atom_desktop.core.hlc import wall_ms
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.sync.errors import ServerConnectError, ServerProblem, SyncError
from atom_desktop.sync.server import connection
from tests.integration.api.test_automations import until
from tests.support.ports import free_port
from tests.support.sync_agents import Agent, reroute
from tests.support.sync_server import SyncDatabase
from tests.support.tcp_proxy import Direction, TcpProxy

MakeAgent = Callable[..., Agent]

TASKS = 1_500
BATCH = 250  # six batches: a fault can fall in the middle of the push
#: The server's confirmation of a commit, as it travels back to the client.
COMMIT = b"COMMIT\x00"
#: The server's confirmation of an upsert (``INSERT 0 <rows>``).
UPSERTED = b"INSERT 0 "


@pytest.fixture
def proxy(synced: SyncDatabase) -> Iterator[TcpProxy]:
    """A proxy to the test's server, started."""
    proxy = TcpProxy(free_port(), ("127.0.0.1", synced.server.port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled exchange is given up after 1.5 s (not a minute) and a stalled transaction
    is ended by the server after 0.5 s, so that the tests do not wait for the real limits."""
    monkeypatch.setattr(connection, "IO_TIMEOUT_S", 1.5)
    monkeypatch.setattr(connection, "IDLE_IN_TRANSACTION_S", 0.5)


def _agent_with_work(make_agent: MakeAgent, proxy: TcpProxy) -> tuple[Agent, dict[str, int]]:
    """An agent syncing through ``proxy`` with TASKS new tasks; their ids and stamps."""
    agent = make_agent("a")
    reroute(agent, proxy.port, batch_size=BATCH)
    agent.tasks.create_many([TaskCreate(title=f"task {i}", tags=["bulk"]) for i in range(TASKS)])
    pending = agent.outbox.pending(limit=TASKS + 1)
    assert len(pending) == TASKS
    return agent, {entry.entity_id: entry.hlc for entry in pending}


def _upstream_bytes(agent: Agent) -> int:
    """About how many bytes the agent's push sends (its rows' JSON)."""
    return sum(len(json.dumps(e.payload)) for e in agent.outbox.pending(limit=TASKS + 1))


def _server_tasks(agent: Agent) -> dict[str, tuple[int, str, int]]:
    """The tenant's tasks on the server: id -> (hlc, device_id, change_id)."""
    with agent.connect() as conn:
        rows = conn.execute("SELECT id, hlc, device_id, change_id FROM atom_sync.tasks").fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _local_ids(agent: Agent) -> set[str]:
    """Every task id in the agent's store, page after page."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        page = agent.tasks.page(limit=500, cursor=cursor)
        ids.update(task.id for task in page.items)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _sessions(agent: Agent) -> int:
    """The agent role's sessions on the server (the test's own query excluded)."""
    with agent.server.connect_admin() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
            (agent.device.role,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _assert_exactly(
    agent: Agent, expected: dict[str, int], before: dict[str, tuple[int, str, int]]
) -> None:
    """Every change on the server once, as made; rows committed ``before`` untouched."""
    server = _server_tasks(agent)
    assert len(server) == TASKS
    assert {task_id: hlc for task_id, (hlc, _, _) in server.items()} == expected
    assert {device for _, device, _ in server.values()} == {agent.engine.replica.device_id()}
    assert len({change for _, _, change in server.values()}) == TASKS
    # What was committed before the fault kept its change_id: no re-send applied it again.
    assert {task_id: server[task_id] for task_id in before} == before
    assert agent.outbox.count() == 0
    assert agent.engine.replica.conflict_count() == 0
    assert _local_ids(agent) == set(expected)


def test_a_push_stalled_mid_batch_is_given_up_and_another_connection_finishes_it(
    make_agent: MakeAgent, proxy: TcpProxy, short_waits: None
) -> None:
    agent, expected = _agent_with_work(make_agent, proxy)
    # The link stops halfway through the push, in the middle of a batch's upsert.
    proxy.stall_after(_upstream_bytes(agent) // 2, Direction.UP)
    with pytest.raises(ServerConnectError) as info:
        agent.engine.push_once()
    assert proxy.tripped.is_set()
    assert info.value.problem is ServerProblem.TIMEOUT
    assert "did not answer in time" in info.value.message
    committed = _server_tasks(agent)
    assert 0 < len(committed) < TASKS
    assert len(committed) % BATCH == 0  # whole batches only
    assert agent.outbox.count() == TASKS - len(committed)

    # The stalled link is still open; the next push opens another and finishes.
    assert proxy.stalled() == 1
    result = agent.engine.push_once()
    assert result.sent == result.applied == TASKS - len(committed)
    _assert_exactly(agent, expected, committed)

    # The stall ends: what it held (half a statement, then the close) changes nothing.
    proxy.release()
    until(lambda: _sessions(agent) == 1, what="the stalled session to end")
    _assert_exactly(agent, expected, committed)


def test_a_session_stalled_inside_a_transaction_gives_up_its_tenants_turn(
    make_agent: MakeAgent, proxy: TcpProxy, short_waits: None
) -> None:
    agent, expected = _agent_with_work(make_agent, proxy)
    # The third batch's upsert ran on the server (its tenant's write turn taken) and
    # the answer stalls: the server waits for a commit that never comes.
    proxy.stall_at(UPSERTED, nth=3)
    with pytest.raises(ServerConnectError) as info:
        agent.engine.push_once()
    assert info.value.problem is ServerProblem.TIMEOUT
    committed = _server_tasks(agent)
    assert len(committed) == 2 * BATCH
    # The link stays stalled. The server ends the idle transaction, which frees the
    # tenant's turn, so the next pushes (of this device or another) can write.
    until(lambda: _sessions(agent) == 0, what="the server to end the stalled session")
    result = agent.engine.push_once()
    assert result.sent == result.applied == TASKS - 2 * BATCH
    _assert_exactly(agent, expected, committed)
    proxy.release()


def test_a_connection_dropped_mid_batch_is_retried_and_converges_exactly(
    make_agent: MakeAgent, proxy: TcpProxy
) -> None:
    agent, expected = _agent_with_work(make_agent, proxy)
    proxy.cut_after(_upstream_bytes(agent) // 2, Direction.UP)
    with pytest.raises(ServerConnectError):
        agent.engine.push_once()
    assert proxy.tripped.is_set()
    committed = _server_tasks(agent)
    assert 0 < len(committed) < TASKS
    assert len(committed) % BATCH == 0
    result = agent.engine.push_once()
    assert result.sent == result.applied == TASKS - len(committed)
    _assert_exactly(agent, expected, committed)


def test_a_commit_whose_confirmation_is_lost_is_sent_again_and_changes_nothing(
    make_agent: MakeAgent, proxy: TcpProxy
) -> None:
    agent, expected = _agent_with_work(make_agent, proxy)
    agent.engine.pull_once()  # the session is open: the next commits are the batches'
    # The link drops as batch 2's confirmation is on its way: committed, not known to be.
    proxy.cut_at(COMMIT, nth=2)
    with pytest.raises(ServerConnectError):
        agent.engine.push_once()
    committed = _server_tasks(agent)
    assert len(committed) == 2 * BATCH
    assert agent.outbox.count() == TASKS - BATCH  # batch 2 waits to be sent again
    result = agent.engine.push_once()
    assert result.sent == TASKS - BATCH
    assert result.applied == TASKS - 2 * BATCH  # batch 2 was there already
    assert result.conflicts == 0
    _assert_exactly(agent, expected, committed)


def test_clocks_days_apart_give_the_same_winner_on_both_devices(make_agent: MakeAgent) -> None:
    day = int(timedelta(days=1).total_seconds() * 1000)
    ahead, behind = make_agent("ahead"), make_agent("behind")
    ahead.db.wall_ms = lambda: wall_ms() + day
    behind.db.wall_ms = lambda: wall_ms() - day
    task = behind.tasks.create(TaskCreate(title="shared"))
    behind.engine.sync_once()
    ahead.engine.sync_once()

    # Concurrent edits: the device whose clock is ahead stamps the later version,
    # though the other edits after it in real time. Both devices agree on it.
    ahead.tasks.update(task.id, TaskUpdate(title="edited ahead"))
    behind.tasks.update(task.id, TaskUpdate(title="edited behind"))
    for agent in (ahead, behind, ahead, behind):
        agent.engine.sync_once()
    assert ahead.all_tasks()[task.id].title == behind.all_tasks()[task.id].title == "edited ahead"
    assert behind.engine.replica.conflict_count() == 1  # its edit is kept in the inbox
    assert ahead.engine.replica.conflict_count() == 0
    winner, _, _ = _server_tasks(ahead)[task.id]

    # An edit made after seeing that version wins, though its wall clock is two days
    # behind: the clock moved past every stamp it received.
    behind.tasks.update(task.id, TaskUpdate(title="edited after seeing it"))
    for agent in (behind, ahead):
        agent.engine.sync_once()
    assert ahead.all_tasks() == behind.all_tasks()
    assert ahead.all_tasks()[task.id].title == "edited after seeing it"
    hlc, device, _ = _server_tasks(ahead)[task.id]
    assert device == behind.engine.replica.device_id()
    assert hlc > winner


def test_rights_revoked_mid_session_fail_the_push_and_keep_the_change(
    make_agent: MakeAgent, synced: SyncDatabase
) -> None:
    agent = make_agent("revoked")
    agent.tasks.create(TaskCreate(title="synced"))
    agent.engine.sync_once()  # the engine's session stays open
    with synced.connect_admin(autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE atom_sync_device FROM {}").format(sql.Identifier(agent.device.role))
        )
    agent.tasks.create(TaskCreate(title="made after the revocation"))
    with pytest.raises(SyncError, match="may not read") as info:
        agent.engine.push_once()
    assert info.value.problem is ServerProblem.PERMISSION
    assert "add-user" in (info.value.hint or "")
    assert agent.device.password not in str(info.value)
    assert agent.outbox.count() == 1  # kept for when the rights come back
    # Local work goes on.
    agent.tasks.create(TaskCreate(title="and after the failure"))
    assert agent.outbox.count() == 2
    titles = {task.title for task in agent.all_tasks().values()}
    assert {"synced", "made after the revocation", "and after the failure"} <= titles
