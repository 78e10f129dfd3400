"""Each change is stamped in its transaction; the device id and clock survive a restart."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import select

from atom_desktop.core.hlc import unpack
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
from atom_desktop.store.migrator import alembic_config
from atom_desktop.store.models import SyncStateRow, SyncVersionRow
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.runs import RunRepository
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from atom_desktop.store.tasks import TaskRepository


def _state(db: Database) -> SyncStateRow:
    with db.read() as session:
        row = session.scalars(select(SyncStateRow)).one()
        session.expunge(row)
        return row


def _versions(db: Database) -> dict[str, tuple[int, str, bool]]:
    with db.read() as session:
        return {
            v.entity_id: (v.hlc, v.device_id, v.deleted)
            for v in session.scalars(select(SyncVersionRow))
        }


def test_changes_are_stamped_in_commit_order_with_their_rows_version(db: Database) -> None:
    tasks = TaskRepository(db, IdFactory())
    first, second = tasks.create_many([TaskCreate(title="a"), TaskCreate(title="b")])
    tasks.update(first.id, TaskUpdate(title="a2"))
    tasks.delete(second.id)
    entries = Outbox(db).pending()
    stamps = [e.hlc for e in entries]
    assert stamps == sorted(set(stamps)) and len(stamps) == 4
    device = _state(db).device_id
    assert _versions(db) == {
        first.id: (stamps[2], device, False),
        second.id: (stamps[3], device, True),  # a tombstone keeps its version
    }
    assert _state(db).hlc == stamps[-1]


def test_the_device_id_stays_and_the_clock_never_goes_back_after_a_restart(
    db_path: Path, key: bytes
) -> None:
    db = Database.open(db_path, key)
    db.wall_ms = lambda: 10_000_000  # a clock far ahead ...
    TaskRepository(db, IdFactory()).create(TaskCreate(title="a"))
    before = _state(db)
    db.close()
    db = Database.open(db_path, key)
    try:
        db.wall_ms = lambda: 5_000  # ... then set back
        TaskRepository(db, IdFactory()).create(TaskCreate(title="b"))
        after = _state(db)
        stamps = [e.hlc for e in Outbox(db).pending()]
    finally:
        db.close()
    assert after.device_id == before.device_id
    assert stamps[1] > stamps[0]
    assert unpack(stamps[1]) == (10_000_000, 1)


def test_a_run_records_its_summary_and_never_its_output_or_environment(db: Database) -> None:
    runs = RunRepository(db)
    run = runs.create(
        id=IdFactory().new(), source="api", requester=None, argv=["echo", "a b"], shell=None,
        cwd="/tmp", env_names=["SECRET_TOKEN"],
    )  # fmt: skip
    runs.update(run.id, status="succeeded", exit_code=0)
    summaries = [e for e in Outbox(db).pending() if e.entity == "run"]
    assert [s.payload["status"] for s in summaries] == ["queued", "succeeded"]
    assert summaries[-1].payload == {
        "command": "echo 'a b'",
        "status": "succeeded",
        "exit_code": 0,
        "started_at": None,
        "ended_at": None,
    }
    assert run.id not in _versions(db)  # one way: no version to compare


def test_changes_made_before_sync_existed_are_stamped_and_versioned(
    db_path: Path, key: bytes
) -> None:
    db = Database.open(db_path, key)
    tasks = TaskRepository(db, IdFactory())
    kept, gone = tasks.create_many([TaskCreate(title="kept"), TaskCreate(title="gone")])
    tasks.delete(gone.id)
    db.close()
    engine = build_engine(lambda: connect(db_path, key), writer=True)
    try:
        with engine.connect() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
            conn.commit()
    finally:
        engine.dispose()
    db = Database.open(db_path, key)  # 0005 -> 0006 with three outbox entries
    try:
        stamps = [e.hlc for e in Outbox(db).pending()]
        versions = _versions(db)
        state = _state(db)
    finally:
        db.close()
    assert stamps == sorted(set(stamps)) and stamps[0] > 0
    assert versions == {
        kept.id: (stamps[0], state.device_id, False),
        gone.id: (stamps[2], state.device_id, True),
    }
    assert state.hlc == stamps[-1]
