"""Migration 0008: the audit log's actor column, and the window's older entries moved onto it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from atom_desktop.core.actors import Actor
from atom_desktop.store.audit import AuditLog
from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
from atom_desktop.store.migrator import alembic_config


def test_older_entries_get_their_actor(db_path: Path, key: bytes) -> None:
    # A database as 0007 left it: no actor column, the window named by a token name.
    Database.open(db_path, key).close()
    engine = build_engine(lambda: connect(db_path, key), writer=True)
    try:
        with engine.connect() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
            for name in ("desktop app", "owner", None):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, token_name, action, target, status, result) "
                        "VALUES (:at, :name, 'task.create', NULL, 201, 'ok')"
                    ),
                    {"at": datetime.now(UTC).replace(tzinfo=None), "name": name},
                )
            conn.commit()
    finally:
        engine.dispose()

    db = Database.open(db_path, key)
    try:
        entries = AuditLog(db).page()
    finally:
        db.close()
    assert sorted((e.actor, e.token_name or "") for e in entries) == [
        (Actor.API, ""),
        (Actor.API, "owner"),
        (Actor.WINDOW, ""),
    ]
