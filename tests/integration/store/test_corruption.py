"""A damaged page is reported as damage, and the file is kept as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.errors import DatabaseCorruptError
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository

PAGE = 4096


def _make_database(path: Path, key: bytes) -> None:
    db = Database.open(path, key)
    try:
        TaskRepository(db, IdFactory()).create_many(
            TaskCreate(title=f"task {i}", notes="n" * 200) for i in range(300)
        )
    finally:
        db.close()  # checkpoints the WAL into the main file


@pytest.mark.parametrize("page", [3, -2])
def test_flipped_byte_is_reported_and_file_kept(tmp_path: Path, key: bytes, page: int) -> None:
    path = tmp_path / "atom.db"
    _make_database(path, key)
    data = bytearray(path.read_bytes())
    pages = len(data) // PAGE
    index = (page % pages) * PAGE + 200
    data[index] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseCorruptError, match="damaged") as info:
        Database.open(path, key, key_verified=True)
    assert "kept" in str(info.value)
    assert path.read_bytes() == bytes(data)


def test_damaged_first_page_with_a_known_key_is_damage_not_a_wrong_key(
    tmp_path: Path, key: bytes
) -> None:
    path = tmp_path / "atom.db"
    _make_database(path, key)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseCorruptError, match="first page"):
        Database.open(path, key, key_verified=True)
    assert path.read_bytes() == bytes(data)


def test_integrity_check_passes_on_a_healthy_database(db: Database) -> None:
    db.check_integrity()
