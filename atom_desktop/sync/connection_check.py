""" "Test connection": log in to the sync server as sync would, and say what failed.

Each failure is one :class:`~atom_desktop.sync.errors.ServerProblem` (DNS,
refused, timeout, TLS, authentication, database, permission, schema missing,
too old or too new) with a message that names the server without its
password and says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.errors import ServerPermissionError, ServerProblem, SyncError
from atom_desktop.sync.server.connection import (
    connect,
    connect_error,
    error_line,
    parse_address,
)
from atom_desktop.sync.server.schema import check_server_version

_ADD_USER_HINT = (
    "Sync logs in with a role an administrator made for it: atom-desktop sync server "
    "add-user --url ADMIN_URL --tenant NAME --user ROLE"
)


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What a successful test found: who we are on which server, in which tenant."""

    server: str  # the address without its password
    role: str
    tenant: str
    schema_version: str
    postgres_version: str

    def describe(self) -> str:
        """One line for a person."""
        return (
            f"Connected to {self.server} as {self.role}, tenant {self.tenant!r} "
            f"(sync schema {self.schema_version}, PostgreSQL {self.postgres_version})."
        )


def check_connection(url: str, redactor: Redactor | None = None) -> ConnectionReport:
    """Connect to ``url``, check the schema and the role's tenant; SyncError if any fails."""
    masker = redactor or Redactor()
    address = parse_address(url)
    if address.password:
        masker.add(address.password)
    with connect(address, autocommit=True, redactor=masker) as conn:
        try:
            schema_version = check_server_version(conn)
            row = conn.execute(
                "SELECT current_user, current_setting('server_version'), "
                "(SELECT name FROM atom_sync.tenants WHERE id = atom_sync.current_tenant())"
            ).fetchone()
        except psycopg.errors.InsufficientPrivilege as exc:
            raise ServerPermissionError(
                f"The role may not use the sync schema on {address.display} "
                f"({masker.redact(error_line(exc))}).",
                problem=ServerProblem.PERMISSION,
                hint=_ADD_USER_HINT,
            ) from None
        except psycopg.OperationalError as exc:
            raise connect_error(address, str(exc), masker) from None
        except psycopg.Error as exc:
            raise SyncError(
                f"The server at {address.display} answered with an error: "
                f"{masker.redact(error_line(exc))}.",
            ) from None
    assert row is not None  # a SELECT without FROM returns one row
    role, postgres_version, tenant = row
    if tenant is None:
        raise ServerPermissionError(
            f"The role {role} belongs to no tenant on {address.display}.",
            problem=ServerProblem.PERMISSION,
            hint=_ADD_USER_HINT,
        )
    return ConnectionReport(
        address.display, str(role), str(tenant), schema_version, postgres_version
    )


__all__ = ["ConnectionReport", "check_connection"]
