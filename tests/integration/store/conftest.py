from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop.core.events import EventBus
from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.tasks import TaskRepository


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "atom.db"


@pytest.fixture
def db(db_path: Path, key: bytes) -> Iterator[Database]:
    database = Database.open(db_path, key)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def tasks(db: Database, bus: EventBus) -> TaskRepository:
    return TaskRepository(db, IdFactory(), bus)
