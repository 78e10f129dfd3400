"""Applying the alembic migrations, and refusing a database from the future."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from atom_desktop.store.errors import SchemaTooNewError

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest migration's revision. A database already there is opened without
# loading alembic at all (a fifth of a second of every start); a test keeps
# this equal to alembic's own head.
SCHEMA_HEAD = "0009"


def alembic_config() -> Config:
    """An alembic configuration pointing at our migrations (no ini file)."""
    from alembic.config import Config  # noqa: PLC0415 - see SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest schema revision this version of the program knows."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see SCHEMA_HEAD

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")  # a packaging bug, not a user error
    return head


def migrate(engine: Engine) -> None:
    """Bring the database to the head revision; refuse one written by a newer version."""
    if _current_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command  # noqa: PLC0415 - see SCHEMA_HEAD
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

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


def _current_revision(engine: Engine) -> str | None:
    """The database's revision, read with plain SQL (None before the first migration)."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError:
            return None  # no alembic_version table yet
        finally:
            conn.rollback()
