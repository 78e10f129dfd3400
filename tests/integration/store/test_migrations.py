"""Migrations build the schema the models describe; a newer schema is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
from atom_desktop.store.errors import SchemaTooNewError
from atom_desktop.store.migrator import SCHEMA_HEAD, head_revision
from atom_desktop.store.models import Base


def test_empty_database_is_migrated_to_head(db: Database) -> None:
    assert db.schema_revision() == head_revision()
    with db.read() as session:
        names = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type='table'")))
    assert {"tasks", "tasks_fts", "outbox", "alembic_version"} <= names


def test_models_match_the_migrated_schema(db_path: Path, key: bytes) -> None:
    Database.open(db_path, key).close()
    engine = build_engine(lambda: connect(db_path, key), writer=False)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    # FTS5 shadow tables are not models.
    relevant = [
        d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("tasks_fts"))
    ]
    assert relevant == []


def test_reopening_at_head_changes_nothing(db_path: Path, key: bytes) -> None:
    Database.open(db_path, key).close()
    before = db_path.read_bytes()
    Database.open(db_path, key).close()
    assert db_path.read_bytes() == before


def test_newer_schema_is_refused_and_left_untouched(db_path: Path, key: bytes) -> None:
    db = Database.open(db_path, key)
    with db.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.close()
    before = db_path.read_bytes()
    with pytest.raises(SchemaTooNewError, match="newer ATOM Desktop") as info:
        Database.open(db_path, key)
    assert "9999" in str(info.value)
    assert db_path.read_bytes() == before


def test_the_fast_path_knows_the_newest_migration() -> None:
    # Opening skips alembic when the database is at SCHEMA_HEAD; a new
    # migration must move it too, or databases would never be upgraded.
    assert head_revision() == SCHEMA_HEAD
