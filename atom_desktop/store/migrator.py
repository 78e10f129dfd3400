"""Applying the alembic migrations, and refusing a database from the future."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from atom_desktop.store.errors import SchemaTooNewError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An alembic configuration pointing at our migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest schema revision this version of the program knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")  # a packaging bug, not a user error
    return head


def migrate(engine: Engine) -> None:
    """Bring the database to the head revision; refuse one written by a newer version."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        conn.rollback()
        known = {rev.revision for rev in script.walk_revisions()}
        if current is not None and current not in known:
            raise SchemaTooNewError(
                f"The database was written by a newer ATOM Desktop (schema {current}); this "
                f"version knows schemas up to {head}.",
                hint="Install the newer version again. The database was left untouched.",
            )
        if current == head:
            return
        logger.info("Migrating the database from schema %s to %s", current or "(empty)", head)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
