"""The database on disk is SQLCipher-encrypted: nothing readable in it or its WAL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import DatabaseUnreadableError
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository

MARKERS = ("Quarterly-report-ZEBRA", "notes-about-PLATYPUS", "tag-OCELOT")


def _assert_unreadable(path: Path) -> None:
    data = path.read_bytes()
    assert data, f"{path} is empty"
    assert not data.startswith(b"SQLite format 3")
    for marker in MARKERS:
        assert marker.encode() not in data, f"{marker} readable in {path.name}"
        assert marker.encode("utf-16-le") not in data


def test_round_trip_leaves_nothing_readable_in_file_or_wal(db_path: Path, key: bytes) -> None:
    db = Database.open(db_path, key)
    try:
        repo = TaskRepository(db, IdFactory())
        created = repo.create_many(
            TaskCreate(title=f"{MARKERS[0]} {i}", notes=MARKERS[1], tags=[MARKERS[2]])
            for i in range(200)
        )
        wal = db_path.with_name(db_path.name + "-wal")
        # The WAL holds the new pages until a checkpoint: check it while open.
        assert wal.exists()
        assert wal.stat().st_size > 0
        _assert_unreadable(wal)
    finally:
        db.close()
    _assert_unreadable(db_path)

    reopened = Database.open(db_path, key)
    try:
        repo = TaskRepository(reopened, IdFactory())
        assert repo.count() == 200
        got = repo.get(created[7].id)
        assert got.title == f"{MARKERS[0]} 7"
        assert got.tags == (MARKERS[2],)
    finally:
        reopened.close()


def test_file_and_wal_are_private(db: Database, db_path: Path) -> None:
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)


def test_wrong_key_is_a_clear_error_and_changes_nothing(db_path: Path, key: bytes) -> None:
    Database.open(db_path, key).close()
    before = db_path.read_bytes()
    siblings = sorted(p.name for p in db_path.parent.iterdir())
    with pytest.raises(DatabaseUnreadableError, match="cannot be opened with this key") as info:
        Database.open(db_path, os.urandom(32))
    assert "left untouched" in str(info.value)
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == siblings


def test_missing_file_is_created_only_when_absent(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "new.db"
    Database.open(path, key).close()
    assert path.stat().st_size > 0
