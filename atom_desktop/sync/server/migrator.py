"""Applying the server schema's migrations: ``atom-desktop sync server init``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.errors import ServerPermissionError, ServerProblem, ServerSchemaTooNewError
from atom_desktop.sync.server.connection import ServerAddress, connect, error_line
from atom_desktop.sync.server.schema import (
    SCHEMA,
    SERVER_SCHEMA_VERSION,
    is_newer,
    read_server_version,
)

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Two inits at once take turns (a session lock, "atom" and 1 as its key).
_INIT_LOCK = (0x61746F6D, 1)

_PERMISSION_HINT = (
    "init needs a role that may create schemas in the database (its owner, or one with "
    "CREATE on it) and roles (CREATEROLE), e.g. the database's owner or a superuser."
)


@dataclass(frozen=True, slots=True)
class InitOutcome:
    """What init found and what it left: ``before`` is None on a server without the schema."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether init applied any migration."""
        return self.before != self.after


def alembic_config() -> Config:
    """An alembic configuration pointing at the server migrations (no ini file)."""
    # Imported here: an agent that only syncs never migrates, and alembic takes a while.
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest server revision alembic finds (held equal to SERVER_SCHEMA_VERSION)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no server migrations found")  # a packaging bug
    return head


def init_server(address: ServerAddress, redactor: Redactor | None = None) -> InitOutcome:
    """Bring the server's schema to this program's head; refuse one from a newer program.

    Idempotent: at the head it changes nothing and says so. Concurrent inits
    take turns. Each migration commits on its own, so a failure leaves the
    server at the last revision that completed.
    """
    # A migration may build an index on a large table: no limit per exchange.
    conn = connect(address, autocommit=True, redactor=redactor, io_limit=False)
    try:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", _INIT_LOCK)
        before = read_server_version(conn)
        if before is not None and is_newer(before):
            raise ServerSchemaTooNewError(
                f"The server's sync schema is version {before}, newer than this ATOM Desktop "
                f"knows (up to {SERVER_SCHEMA_VERSION}).",
                problem=ServerProblem.SCHEMA_TOO_NEW,
                hint="Use the newer ATOM Desktop to administer this server. Nothing was changed.",
            )
        if before == SERVER_SCHEMA_VERSION:
            return InitOutcome(before, before)
        logger.info("Migrating %s from %s to %s", address.display, before or "(none)", "head")
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
            _upgrade(conn)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ServerPermissionError(
                f"The role may not set up the sync schema on {address.display}: {error_line(exc)}.",
                problem=ServerProblem.PERMISSION,
                hint=_PERMISSION_HINT,
            ) from None
        after = read_server_version(conn)
        return InitOutcome(before, after or "(none)")
    finally:
        conn.close()  # also ends the session lock


def _upgrade(conn: psycopg.Connection[Any]) -> None:
    """Run alembic's upgrade to head over ``conn`` (through a SQLAlchemy connection on it)."""
    from alembic import command  # noqa: PLC0415 - see alembic_config
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.pool import StaticPool  # noqa: PLC0415

    # The engine hands out the connection opened (and checked) above; alembic
    # commits each migration itself.
    conn.autocommit = False
    engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
    try:
        with engine.connect() as sa_conn:
            config = alembic_config()
            config.attributes["connection"] = sa_conn
            command.upgrade(config, "head")
            sa_conn.commit()
    finally:
        conn.autocommit = True
