"""The server schema's names and version, and reading the version of a connected server.

What the migrations in ``migrations/`` build, in schema ``atom_sync``:

- ``tenants`` (``id`` a uuid as text, unique ``name``) and ``tenant_members``
  (login role name -> tenant; one tenant per role, so a device never has to
  say which tenant it writes to).
- The synced tables ``tasks``, ``automations`` and ``run_summaries``. Each
  row has ``tenant_id`` (defaults to the writer's tenant), ``id`` (the local
  store's uuid text; the key is ``(tenant_id, id)``, so ids never collide
  across tenants and a crafted id can neither reach nor probe another
  tenant's row), ``hlc`` (see :mod:`atom_desktop.core.hlc`), ``device_id``,
  ``deleted`` (a tombstone: its ``data`` is emptied by the server),
  ``change_id`` and ``changed_at``.
- ``tasks.data`` and ``automations.data`` are ``jsonb``: the entity's JSON as
  the local outbox records it (a task's ``to_json()``; an automation's
  ``name``, ``enabled`` and ``spec``, which the push leaves secrets out of).
  The columns the server itself works with are typed; the payload stays
  the client's, so a field added to the local store needs no server
  migration and round-trips through devices that do not know it yet.
  ``run_summaries`` is a fixed, one-way record the web app lists, so its
  fields are typed columns: ``command``, ``status``, ``exit_code``,
  ``started_at``, ``ended_at`` (never any output).
- ``change_id``: one server-wide sequence, stamped by a trigger on every
  insert and update (a tombstone is an update), whatever the client sent.
  The trigger takes a per-tenant transaction lock first, so one tenant's
  changes commit in ``change_id`` order: a puller reading "after my
  cursor" can never see change 12 before change 11 of its tenant has
  committed. A pull must read all synced tables in one snapshot
  (``REPEATABLE READ``) before it moves its cursor.
- After each statement that changed rows, ``NOTIFY`` on the tenant's own
  channel (:func:`notify_channel`) with ``{"table": ..., "change_id": <the
  statement's highest>}``: no row ids and no data, and a channel that only
  someone who knows the tenant id can name.
- Row-level security, forced on the synced tables: members of the group
  role :data:`DEVICE_GROUP_ROLE` read and write only rows whose tenant is
  that of ``current_user`` (a policy on ``tenant_members`` lets a role see
  its own membership and nothing else); they may not ``DELETE`` at all.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from atom_desktop.sync.errors import (
    ServerPermissionError,
    ServerProblem,
    ServerSchemaError,
    ServerSchemaTooNewError,
)

#: The PostgreSQL schema everything of ours lives in.
SCHEMA = "atom_sync"
#: Alembic's version table, inside :data:`SCHEMA` (never the public ``alembic_version``).
VERSION_TABLE = "atom_sync_version"
#: The newest server migration this program knows (a test holds it to alembic's head).
#: Revisions are zero-padded sequence numbers, so they order as integers.
SERVER_SCHEMA_VERSION = "0001"
#: The group role every device login role is made a member of; it holds the grants.
DEVICE_GROUP_ROLE = "atom_sync_device"
#: The tables that sync, in the order a pull applies them.
SYNCED_TABLES = ("tasks", "automations", "run_summaries")
#: A tenant's NOTIFY channel is this prefix and its id.
CHANNEL_PREFIX = "atom_sync_"

_ADMIN_HINT = "An administrator runs: atom-desktop sync server init --url ADMIN_URL"


def notify_channel(tenant_id: str) -> str:
    """The channel a tenant's changes are announced on (``LISTEN`` it as an identifier)."""
    return f"{CHANNEL_PREFIX}{tenant_id}"


def read_server_version(conn: psycopg.Connection[Any]) -> str | None:
    """The schema revision of the connected server; None where init never ran.

    Leaves the connection's transaction as it found it when it is in one
    (a savepoint around the read), so it can be called anywhere.
    """
    table = sql.Identifier(SCHEMA, VERSION_TABLE)
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{VERSION_TABLE}",))
            exists = cur.fetchone()
            if not exists or not exists[0]:
                return None
            cur.execute(sql.SQL("SELECT version_num FROM {}").format(table))
            row = cur.fetchone()
    except psycopg.errors.InsufficientPrivilege:
        raise ServerPermissionError(
            f"The role may not read the server's schema version ({SCHEMA}.{VERSION_TABLE}).",
            problem=ServerProblem.PERMISSION,
            hint="Sync logs in with a role made by: atom-desktop sync server add-user "
            "--url ADMIN_URL --tenant NAME --user ROLE",
        ) from None
    return None if row is None else str(row[0])


def is_newer(revision: str, than: str = SERVER_SCHEMA_VERSION) -> bool:
    """Whether ``revision`` comes after ``than``; one that is no number counts as newer.

    A revision this program cannot read was not written by it, nor by any
    older version: refusing it is the safe answer.
    """
    if not revision.isdigit():
        return True
    return int(revision) > int(than)


def check_server_version(conn: psycopg.Connection[Any]) -> str:
    """The server's revision when this program can sync with it; a ServerSchemaError if not."""
    found = read_server_version(conn)
    if found is None:
        raise ServerSchemaError(
            f"The server has no ATOM sync schema ({SCHEMA}).",
            problem=ServerProblem.SCHEMA_MISSING,
            hint=_ADMIN_HINT,
        )
    if is_newer(found):
        raise ServerSchemaTooNewError(
            f"The server's sync schema is version {found}, newer than this ATOM Desktop knows "
            f"(up to {SERVER_SCHEMA_VERSION}).",
            problem=ServerProblem.SCHEMA_TOO_NEW,
            hint="Install the newer ATOM Desktop to sync with this server. Nothing was changed.",
        )
    if found != SERVER_SCHEMA_VERSION:
        raise ServerSchemaError(
            f"The server's sync schema is version {found}; this ATOM Desktop needs "
            f"{SERVER_SCHEMA_VERSION}.",
            problem=ServerProblem.SCHEMA_TOO_OLD,
            hint=f"{_ADMIN_HINT} (with this version of ATOM Desktop).",
        )
    return found
