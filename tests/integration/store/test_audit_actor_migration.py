"""Migration 0008: the audit log's actor column, and the window's older entries moved onto it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from atom_desktop.core.actors import Actor
from atom_desktop.store.audit import AuditLog
from atom_desktop.store.database import Database


def test_older_entries_get_their_actor(db_path: Path, key: bytes) -> None:
    # A database as 0007 left it: no actor column, the window named by a token name.
    db = Database.open(db_path, key)
    with db.write() as session:
        session.execute(text("ALTER TABLE audit_log DROP COLUMN actor"))
        session.execute(text("UPDATE alembic_version SET version_num = '0007'"))
        for name in ("desktop app", "owner", None):
            session.execute(
                text(
                    "INSERT INTO audit_log (at, token_name, action, target, status, result) "
                    "VALUES (:at, :name, 'task.create', NULL, 201, 'ok')"
                ),
                {"at": datetime.now(UTC), "name": name},
            )
    db.close()

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
