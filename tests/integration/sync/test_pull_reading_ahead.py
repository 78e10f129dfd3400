"""The pull reads the next page while it applies one: a fault on either side ends both.

A link cut in the middle of the pages, or a page that fails to apply here,
is raised to the caller; the reader thread is gone by then; the cursor is at
the end of the last page applied, and the next pull goes on from there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from atom_desktop.store.errors import StoreError
from atom_desktop.store.replica import ApplyResult, Merge, RemoteRow
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.sync.errors import ServerConnectError
from tests.support.ports import free_port
from tests.support.sync_agents import Agent, reroute
from tests.support.sync_server import SyncDatabase
from tests.support.tcp_proxy import TcpProxy

MakeAgent = Callable[..., Agent]

PAGE = 100
TASKS = 4 * PAGE + PAGE // 2  # four full pages and half a page
#: The end of a full page of tasks as it comes back from the server.
FULL_PAGE = f"SELECT {PAGE}\x00".encode()


@pytest.fixture
def proxy(synced: SyncDatabase) -> Iterator[TcpProxy]:
    """A proxy to the test's server, started."""
    proxy = TcpProxy(free_port(), ("127.0.0.1", synced.server.port))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def _pushed(make_agent: MakeAgent) -> dict[str, int]:
    """TASKS tasks made and pushed by another device: id -> change_id on the server."""
    source = make_agent("source")
    source.tasks.create_many(TaskCreate(title=f"task {i}") for i in range(TASKS))
    source.engine.push_once()
    with source.connect() as conn:
        rows = conn.execute("SELECT id, change_id FROM atom_sync.tasks").fetchall()
    assert len(rows) == TASKS
    return dict(rows)


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sync-pull-reader"]


def _page_ends(changes: dict[str, int]) -> list[int]:
    ordered = sorted(changes.values())
    return [ordered[i - 1] for i in range(PAGE, len(ordered) + 1, PAGE)]


def test_a_link_cut_mid_pull_is_raised_and_the_next_pull_resumes_at_the_cursor(
    make_agent: MakeAgent, proxy: TcpProxy
) -> None:
    changes = _pushed(make_agent)
    puller = make_agent("puller")
    reroute(puller, proxy.port, page_size=PAGE)
    proxy.cut_at(FULL_PAGE, nth=4)

    with pytest.raises(ServerConnectError):
        puller.engine.pull_once()

    assert proxy.tripped.is_set()
    assert _readers() == []
    cursor = puller.engine.replica.cursor()
    # Only whole pages were applied, and none after the one cut.
    assert cursor in [0, *_page_ends(changes)[:3]]
    below = {task_id for task_id, change in changes.items() if change <= cursor}
    assert set(puller.task_titles()) == below

    result = puller.engine.pull_once()
    assert result.received == TASKS - len(below)
    assert result.cursor == max(changes.values())
    assert set(puller.task_titles()) == set(changes)
    assert _readers() == []


def test_a_page_that_fails_here_stops_the_reader_and_keeps_the_pages_before_it(
    make_agent: MakeAgent,
) -> None:
    changes = _pushed(make_agent)
    puller = make_agent("puller", page_size=PAGE)
    replica = puller.engine.replica
    apply = replica.apply
    applied: list[int] = []

    def apply_two_then_fail(rows: Sequence[RemoteRow], cursor: int, merge: Merge) -> ApplyResult:
        # The disk fills at the third page: the reader is a page ahead, waiting.
        if len(applied) == 2:
            raise StoreError("The disk is full.")
        applied.append(cursor)
        return apply(rows, cursor, merge)

    replica.apply = apply_two_then_fail  # type: ignore[method-assign]
    with pytest.raises(StoreError, match="disk is full"):
        puller.engine.pull_once()

    assert _readers() == []
    ends = _page_ends(changes)
    assert applied == ends[:2]
    assert replica.cursor() == ends[1]
    assert set(puller.task_titles()) == {t for t, c in changes.items() if c <= ends[1]}

    replica.apply = apply  # type: ignore[method-assign]
    # The same connection: the reader's transaction was ended with it.
    result = puller.engine.pull_once()
    assert result.received == TASKS - 2 * PAGE
    assert set(puller.task_titles()) == set(changes)
    assert replica.cursor() == max(changes.values())
