"""A real ``serve`` process SIGKILLed in the middle of a push and of a pull, then started again.

The kill lands at a point the test chose: a loopback proxy stalls the link
there (after a batch's commit, before the agent learns of it; in the fourth
page of a pull of five), so the process dies with the work half done.
After a restart and a sync to the end, the server and the store hold every
acknowledged change exactly once and the pull cursor is at the server's end.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from atom_desktop.config.paths import AppPaths
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.replica import SyncReplica
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.sync.engine import PAGE_SIZE
from tests.integration.api.test_automations import until
from tests.support.agent_process import AgentProcess, agent_env, run_cli
from tests.support.ports import free_port
from tests.support.sync_agents import Agent
from tests.support.sync_server import Device, DeviceFactory, SyncDatabase
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

TASKS = 1_500  # three of the engine's batches (500)
PULLED = 4 * PAGE_SIZE + PAGE_SIZE // 2  # four full pages of a pull and half a page
#: The end of a full page of tasks read from the server (a CommandComplete message).
FULL_PAGE = f"SELECT {PAGE_SIZE}\x00".encode()
COMMIT = b"COMMIT\x00"
UPSERTED = b"INSERT 0 "


@dataclass
class Profile:
    """A serve process's data and config directories and its database key."""

    root: Path
    key: bytes

    @property
    def paths(self) -> AppPaths:
        return AppPaths.resolve(data_dir=self.root / "data", config_dir=self.root / "config")

    def env(self, url: str) -> dict[str, str]:
        extra = {"ATOM_SYNC_URL": url, "ATOM_ENCRYPTION_KEY": self.key.hex()}
        return agent_env(dict(os.environ), self.root / "data", self.root / "config", extra)

    def open(self) -> Database:
        """The store, while no process has it open."""
        self.paths.ensure()
        return Database.open(self.paths.database, self.key)


@pytest.fixture
def proxy(synced: SyncDatabase) -> Iterator[TcpProxy]:
    proxy = TcpProxy(free_port(), ("127.0.0.1", synced.server.port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _url(synced: SyncDatabase, device: Device, port: int) -> str:
    return f"postgresql://{device.role}:{device.password}@127.0.0.1:{port}/{synced.name}"


def _serve(env: dict[str, str]) -> AgentProcess:
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
    except BaseException:
        agent.kill()
        raise
    return agent


def _sync_to_the_end(profile: Profile, url: str) -> None:
    """Start the agent again, sync until nothing is left, stop it."""
    env = profile.env(url)
    agent = _serve(env)
    try:
        # The CLI finds the port in the lock file, as a person's shell would.
        client_env = {k: v for k, v in env.items() if k != "ATOM_PORT"}
        now = run_cli(client_env, "sync", "now", "--wait", "--json")
        assert now.returncode == 0, now.stderr
        assert agent.stop(signal.SIGTERM) == 0
    finally:
        agent.kill()


def _server_tasks(synced: SyncDatabase, device: Device) -> dict[str, tuple[Any, ...]]:
    """The tenant's tasks: id -> (title, hlc, change_id)."""
    with synced.connect_as(device.role, device.password) as conn:
        rows = conn.execute(
            "SELECT id, data ->> 'title', hlc, change_id FROM atom_sync.tasks"
        ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def _local_titles(db: Database) -> dict[str, str]:
    tasks = TaskRepository(db, IdFactory())
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = tasks.page(limit=500, cursor=cursor)
        found.update((task.id, task.title) for task in page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def test_an_agent_killed_mid_push_sends_the_rest_once_after_a_restart(
    synced: SyncDatabase, make_device: DeviceFactory, proxy: TcpProxy, tmp_path: Path
) -> None:
    device = make_device("pusher", "acme")
    profile = Profile(tmp_path / "pusher", os.urandom(32))
    db = profile.open()
    try:
        TaskRepository(db, IdFactory()).create_many(
            TaskCreate(title=f"task {i}") for i in range(TASKS)
        )
        expected = {e.entity_id: e.hlc for e in Outbox(db).pending(limit=TASKS + 1)}
    finally:
        db.close()
    assert len(expected) == TASKS

    # The second batch commits; its confirmation is held, and the agent dies waiting.
    proxy.stall_at(COMMIT, nth=2, since=UPSERTED)
    agent = _serve(profile.env(_url(synced, device, proxy.port)))
    try:
        until(proxy.tripped.is_set, timeout=60, what="the second batch's commit")
    finally:
        agent.kill()
    proxy.release()
    committed = _server_tasks(synced, device)
    assert len(committed) == 1_000
    db = profile.open()
    try:
        assert Outbox(db).count() == TASKS - 500  # the committed second batch is not known
    finally:
        db.close()

    _sync_to_the_end(profile, _url(synced, device, synced.server.port))

    server = _server_tasks(synced, device)
    assert {task_id: hlc for task_id, (_, hlc, _) in server.items()} == expected
    assert len({change for _, _, change in server.values()}) == TASKS
    # Rows committed before the kill were sent again and kept their change_id.
    assert {task_id: server[task_id] for task_id in committed} == committed
    db = profile.open()
    try:
        assert Outbox(db).count() == 0
        assert _local_titles(db) == {task_id: title for task_id, (title, _, _) in server.items()}
    finally:
        db.close()


def test_an_agent_killed_mid_pull_resumes_at_its_cursor_after_a_restart(
    synced: SyncDatabase,
    make_device: DeviceFactory,
    make_agent: Any,
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    source: Agent = make_agent("source")
    source.tasks.create_many(TaskCreate(title=f"task {i}") for i in range(PULLED))
    source.engine.push_once()
    server = _server_tasks(synced, source.device)
    end = max(change for _, _, change in server.values())

    device = make_device("puller", "acme")
    profile = Profile(tmp_path / "puller", os.urandom(32))
    # The link stalls in the fourth page, just before its end reaches the
    # agent. The agent reads a page ahead of the one it applies, and reads
    # the next only once that one is taken: when its reader is in the fourth
    # page, the second has been taken, so the first is in the store.
    proxy.stall_at(FULL_PAGE, nth=4)
    agent = _serve(profile.env(_url(synced, device, proxy.port)))
    try:
        until(proxy.tripped.is_set, timeout=60, what="the pull to stall")
    finally:
        agent.kill()
    db = profile.open()
    try:
        cursor = SyncReplica(db).cursor()
        assert 0 < cursor < end
        # Exactly the rows up to the cursor are here, none after it.
        below = {task_id for task_id, (_, _, change) in server.items() if change <= cursor}
        assert set(_local_titles(db)) == below
    finally:
        db.close()

    _sync_to_the_end(profile, _url(synced, device, synced.server.port))

    db = profile.open()
    try:
        replica = SyncReplica(db)
        assert replica.cursor() == end
        assert _local_titles(db) == {task_id: title for task_id, (title, _, _) in server.items()}
        assert Outbox(db).count() == 0  # pulled rows are not pushed back
        assert replica.conflict_count() == 0
    finally:
        db.close()
    assert _server_tasks(synced, source.device) == server  # the pull changed nothing there
