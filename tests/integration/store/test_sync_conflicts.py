"""The conflict inbox on a real encrypted store: list, restore as a new change, dismiss.

Conflicts are filed the way the sync engine files them: a pulled version,
newer than a local change not pushed yet, applied by the replica.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from atom_desktop.core.events import Event, EventBus, TaskChanged
from atom_desktop.core.hlc import pack
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.models import SyncVersionRow
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.replica import RemoteRow, SyncReplica
from atom_desktop.store.sync_conflicts import (
    ConflictInbox,
    ConflictResolvedError,
    NotRestorableError,
)
from atom_desktop.store.task_types import Task, TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository

OTHER = "00000000-0000-4000-8000-0000000000ff"
#: Far ahead of any local stamp: the remote version is always the newer one.
FUTURE_MS = 4_000_000_000_000


def _keep(remote: dict[str, Any], local: dict[str, Any] | None) -> dict[str, Any]:
    return remote


class Inbox:
    """A store with tasks, a replica and the inbox over it."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.tasks = TaskRepository(db, IdFactory(), bus)
        self.replica = SyncReplica(db)
        self.inbox = ConflictInbox(db, bus)
        self.outbox = Outbox(db)
        self._change = 0

    def remote(self, task: Task, *, deleted: bool = False, **changes: Any) -> RemoteRow:
        """Another device's newer version of ``task``, pulled and applied here."""
        self._change += 1
        data = {} if deleted else {**task.to_json(), **changes}
        # Each a second after the last: ahead of what this device stamped since.
        stamp = pack(FUTURE_MS + 1000 * self._change, 0)
        row = RemoteRow("task", task.id, data, stamp, OTHER, deleted, self._change)
        self.replica.apply([row], self._change, _keep)
        return row

    def pushed(self) -> None:
        """As if the outbox had been pushed (the server took every entry)."""
        self.replica.acknowledge(self.outbox.pending(1000), [])

    def version(self, task_id: str) -> tuple[int, str, bool]:
        with self.db.read() as session:
            v = session.get(SyncVersionRow, ("task", task_id))
            assert v is not None
            return v.hlc, v.device_id, v.deleted


@pytest.fixture
def events(bus: EventBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe(seen.append, "task.changed")
    return seen


@pytest.fixture
def store(db: Database, bus: EventBus) -> Inbox:
    return Inbox(db, bus)


def _lost_edit(store: Inbox) -> tuple[Task, RemoteRow]:
    """A task edited here ("mine") while another device's newer edit ("theirs") came in."""
    task = store.tasks.create(TaskCreate(title="base", tags=["a"]))
    store.pushed()
    store.tasks.update(task.id, TaskUpdate(title="mine", notes="my notes", priority=2))
    winner = store.remote(task, title="theirs")
    return task, winner


def test_a_lost_edit_is_listed_with_the_winner_and_the_row_as_it_is_now(store: Inbox) -> None:
    task, winner = _lost_edit(store)
    assert store.outbox.count() == 0  # the loser is not sent
    (conflict,) = store.inbox.page()
    assert (conflict.entity, conflict.entity_id, conflict.reason) == ("task", task.id, "lost")
    assert conflict.payload["title"] == "mine" and not conflict.deleted
    assert conflict.device_id == store.replica.device_id()
    assert (conflict.winner_hlc, conflict.winner_device_id) == (winner.hlc, OTHER)
    assert conflict.hlc < winner.hlc
    current = conflict.current
    assert (current.exists, current.title, current.status) == (True, "theirs", "todo")
    assert (current.hlc, current.device_id) == (winner.hlc, OTHER)
    assert conflict.resolved_at is None
    assert store.inbox.get(conflict.id) == conflict


def test_restore_makes_the_lost_version_a_new_change_that_wins(
    store: Inbox, events: list[Event]
) -> None:
    task, winner = _lost_edit(store)
    (conflict,) = store.inbox.page()
    events.clear()

    resolved, op = store.inbox.restore_task(conflict.id)

    assert op == "updated"
    restored = store.tasks.get(task.id)
    assert (restored.title, restored.notes, restored.priority, restored.tags) == (
        "mine",
        "my notes",
        2,
        ("a",),
    )
    (entry,) = store.outbox.pending()
    assert entry.op == "upsert" and entry.payload["title"] == "mine"
    assert entry.hlc > winner.hlc  # stamped after the version it lost to: it wins
    assert store.version(task.id) == (entry.hlc, store.replica.device_id(), False)
    assert resolved.resolved_at is not None
    assert resolved.current.title == "mine" and resolved.current.hlc == entry.hlc
    assert [e.payload for e in events] == [TaskChanged(task_id=task.id, op="updated")]
    assert store.inbox.page() == []
    assert store.replica.conflict_count() == 0
    assert store.inbox.page(include_resolved=True) == [resolved]
    with pytest.raises(ConflictResolvedError):
        store.inbox.restore_task(conflict.id)
    with pytest.raises(ConflictResolvedError):
        store.inbox.dismiss(conflict.id)
    assert store.outbox.count() == 1  # nothing written twice


def test_restore_brings_back_a_task_the_winner_deleted_under_its_own_id(store: Inbox) -> None:
    task = store.tasks.create(TaskCreate(title="base"))
    store.pushed()
    store.tasks.update(task.id, TaskUpdate(title="kept alive"))
    store.remote(task, deleted=True)
    assert task.id not in {t.id for t in store.tasks.page().items}
    (conflict,) = store.inbox.page()
    assert conflict.current.exists is False and conflict.current.hlc is not None

    resolved, op = store.inbox.restore_task(conflict.id)

    assert op == "created"
    back = store.tasks.get(task.id)
    assert back.title == "kept alive" and back.created_at == task.created_at
    (entry,) = store.outbox.pending()
    assert entry.op == "upsert" and entry.entity_id == task.id
    assert resolved.current.exists is True
    # Searchable again: the full-text index follows the row.
    assert [t.id for t in store.tasks.search("alive")] == [task.id]


def test_restoring_a_lost_delete_deletes_the_task_again(store: Inbox) -> None:
    task = store.tasks.create(TaskCreate(title="base"))
    store.pushed()
    store.tasks.delete(task.id)
    store.remote(task, title="edited elsewhere")
    assert store.tasks.get(task.id).title == "edited elsewhere"
    (conflict,) = store.inbox.page()
    assert conflict.deleted

    _, op = store.inbox.restore_task(conflict.id)

    assert op == "deleted"
    with pytest.raises(NotFoundError):
        store.tasks.get(task.id)
    (entry,) = store.outbox.pending()
    assert entry.op == "delete"
    assert store.version(task.id)[2] is True


def test_dismiss_keeps_the_winner_and_writes_nothing_to_send(
    store: Inbox, events: list[Event]
) -> None:
    task, _ = _lost_edit(store)
    (conflict,) = store.inbox.page()
    events.clear()
    version = store.version(task.id)

    dismissed = store.inbox.dismiss(conflict.id)

    assert dismissed.resolved_at is not None
    assert store.tasks.get(task.id).title == "theirs"
    assert store.outbox.count() == 0 and store.version(task.id) == version
    assert events == []
    assert store.inbox.page() == [] and store.replica.conflict_count() == 0


def test_unknown_ids_are_not_found(store: Inbox) -> None:
    for call in (store.inbox.get, store.inbox.dismiss, store.inbox.restore_task):
        with pytest.raises(NotFoundError):
            call(12345)


def test_a_rejected_remote_version_can_be_dismissed_but_not_restored(store: Inbox) -> None:
    store.tasks.create(TaskCreate(title="here", source="github", external_id="7"))
    stranger = Task(
        "00000000-0000-4000-8000-000000000001",
        "there",
        "",
        "todo",
        0,
        None,
        (),
        "github",
        "7",
        *(2 * [store.tasks.page().items[0].created_at]),
    )
    store.remote(stranger)  # the same source and external id as a task here: refused
    (conflict,) = store.inbox.page()
    assert conflict.reason == "rejected" and conflict.device_id == OTHER
    assert "external id" in conflict.payload["why"]
    with pytest.raises(NotRestorableError, match="could not store"):
        store.inbox.restore_task(conflict.id)
    assert store.inbox.dismiss(conflict.id).resolved_at is not None


def test_a_deleted_task_whose_external_id_is_taken_now_is_not_restored(store: Inbox) -> None:
    task = store.tasks.create(TaskCreate(title="imported", source="github", external_id="9"))
    store.pushed()
    store.tasks.update(task.id, TaskUpdate(title="edited"))
    store.remote(task, deleted=True)
    newcomer = store.tasks.create(TaskCreate(title="again", source="github", external_id="9"))
    pending = store.outbox.count()
    (conflict,) = store.inbox.page()

    with pytest.raises(NotRestorableError, match=newcomer.id):
        store.inbox.restore_task(conflict.id)

    # Nothing of the attempt was kept: no row, no entry, still open.
    with pytest.raises(NotFoundError):
        store.tasks.get(task.id)
    assert store.outbox.count() == pending
    assert store.inbox.get(conflict.id).resolved_at is None


def test_pages_go_newest_first_and_resolved_ones_only_on_request(store: Inbox) -> None:
    ids = []
    for i in range(5):
        task = store.tasks.create(TaskCreate(title=f"t{i}"))
        store.pushed()
        store.tasks.update(task.id, TaskUpdate(title=f"mine {i}"))
        store.remote(task, title=f"theirs {i}")
        ids.append(store.inbox.page(limit=1)[0].id)
    store.inbox.dismiss(ids[3])
    assert [c.id for c in store.inbox.page()] == [ids[4], ids[2], ids[1], ids[0]]
    assert [c.id for c in store.inbox.page(limit=2)] == [ids[4], ids[2]]
    assert [c.id for c in store.inbox.page(limit=2, before=ids[2])] == [ids[1], ids[0]]
    every = store.inbox.page(include_resolved=True)
    assert [c.id for c in every] == ids[::-1]
    assert store.replica.conflict_count() == 4


def test_the_current_row_of_each_conflict_is_read_for_a_whole_page(
    store: Inbox, db: Database
) -> None:
    tasks = []
    for i in range(3):
        task = store.tasks.create(TaskCreate(title=f"t{i}"))
        store.pushed()
        store.tasks.update(task.id, TaskUpdate(title=f"mine {i}"))
        store.remote(task, title=f"theirs {i}", status="done")
        tasks.append(task)
    store.tasks.delete(tasks[1].id)
    by_id = {c.entity_id: c.current for c in store.inbox.page()}
    assert by_id[tasks[0].id].title == "theirs 0" and by_id[tasks[0].id].status == "done"
    assert by_id[tasks[1].id].exists is False
    with db.read() as session:
        own = session.scalar(
            select(SyncVersionRow.device_id).where(SyncVersionRow.entity_id == tasks[1].id)
        )
    assert by_id[tasks[1].id].device_id == own == store.replica.device_id()
