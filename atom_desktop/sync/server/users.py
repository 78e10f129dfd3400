"""Device roles and tenants: ``atom-desktop sync server add-user``.

A device logs in with a PostgreSQL login role of its own. The role is made a
member of one tenant (``atom_sync.tenant_members``) and of the group role
that holds the grants; row-level security then confines it to that tenant.

The password never reaches the server in clear: it is hashed here into a
SCRAM verifier (libpq's ``PQencryptPasswordConn``, what psql's ``\\password``
does), so the server's statement log and ``pg_stat_activity`` show only the
verifier.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.errors import ServerPermissionError, ServerProblem, SyncError
from atom_desktop.sync.server.connection import ServerAddress, connect, error_line
from atom_desktop.sync.server.schema import DEVICE_GROUP_ROLE, SCHEMA, check_server_version

# Letters, digits, _ . -; what a URL carries without escaping. PostgreSQL
# reserves pg_*, and the group role is no device.
_ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")
_TENANT_MAX = 200
# add-users take turns (a transaction lock, "atom" and 2 as its key), so two
# adding the same role or tenant at once cannot both find it missing.
_ADD_USER_LOCK = (0x61746F6D, 2)
PASSWORD_BYTES = 24

_PERMISSION_HINT = (
    "add-user needs a role with CREATEROLE that may write the atom_sync tables "
    "(the one that ran init, or a superuser)."
)


@dataclass(frozen=True, slots=True)
class AddUserOutcome:
    """What add-user did; ``generated_password`` is the one to show, once."""

    tenant: str
    tenant_id: str
    tenant_created: bool
    role: str
    role_created: bool
    login_granted: bool
    member_added: bool
    password_set: bool
    generated_password: str | None


def check_role_name(role: str) -> None:
    """SyncError (INVALID) unless ``role`` is a name a device role may have."""
    if not _ROLE_NAME.fullmatch(role) or len(role.encode()) > 63:
        raise SyncError(
            f"{role!r} is not a usable role name.",
            problem=ServerProblem.INVALID,
            hint="Use up to 63 letters, digits, '_', '.' or '-', starting with a letter or '_'.",
        )
    if role.lower().startswith("pg_") or role in (DEVICE_GROUP_ROLE, "public"):
        raise SyncError(
            f"{role!r} is reserved; a device needs a role of its own.",
            problem=ServerProblem.INVALID,
        )


def check_tenant_name(tenant: str) -> None:
    """SyncError (INVALID) unless ``tenant`` is a usable tenant name."""
    if not tenant.strip() or len(tenant) > _TENANT_MAX or not tenant.isprintable():
        raise SyncError(
            f"{tenant!r} is not a usable tenant name.",
            problem=ServerProblem.INVALID,
            hint=f"Use 1 to {_TENANT_MAX} printable characters.",
        )


def new_password() -> str:
    """A random password (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def add_user(
    address: ServerAddress,
    *,
    tenant: str,
    role: str,
    password: str | None = None,
    reset_password: bool = False,
    redactor: Redactor | None = None,
) -> AddUserOutcome:
    """Make ``role`` a login role of ``tenant`` (creating either as needed), in one transaction.

    A new role gets ``password``, or a generated one. An existing role keeps
    its password unless ``password`` is given or ``reset_password`` asks
    for a generated one. Roles that row-level security would not hold
    (superusers, BYPASSRLS, the administrator's own) are refused, as is a
    role already in another tenant.
    """
    check_role_name(role)
    check_tenant_name(tenant)
    if password is not None and not password:
        raise SyncError("The password is empty.", problem=ServerProblem.INVALID)
    conn = connect(address, redactor=redactor)
    try:
        with conn.transaction():
            check_server_version(conn)
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", _ADD_USER_LOCK)
            return _add_user(conn, tenant, role, password, reset_password)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ServerPermissionError(
            f"The administrator role may not add {role!r}: {error_line(exc)}.",
            problem=ServerProblem.PERMISSION,
            hint=_PERMISSION_HINT,
        ) from None
    finally:
        conn.close()


def _add_user(
    conn: psycopg.Connection[Any],
    tenant: str,
    role: str,
    password: str | None,
    reset_password: bool,
) -> AddUserOutcome:
    tenant_id, tenant_created = _tenant(conn, tenant)
    row = conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin, rolinherit, rolname = current_user "
        "FROM pg_catalog.pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    found = None if row is None else _ExistingRole(*row)
    if found is not None:
        _check_existing(role, found)
    member_of = conn.execute(
        sql.SQL(
            "SELECT t.name FROM {} m JOIN {} t ON t.id = m.tenant_id WHERE m.role_name = %s"
        ).format(sql.Identifier(SCHEMA, "tenant_members"), sql.Identifier(SCHEMA, "tenants")),
        (role,),
    ).fetchone()
    if member_of is not None and member_of[0] != tenant:
        raise SyncError(
            f"The role {role!r} already belongs to the tenant {member_of[0]!r}; a role belongs "
            "to one tenant.",
            problem=ServerProblem.INVALID,
            hint="Give this device another role name. Nothing was changed.",
        )
    generated = None
    if password is None and (found is None or reset_password):
        password = generated = new_password()
    ident = sql.Identifier(role)
    if found is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    elif not found.can_login:
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(ident))
    if password is not None:
        # Same transaction as the CREATE: the role never exists without its password.
        verifier = _verifier(conn, role, password)
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(verifier)))
    if member_of is None:
        conn.execute(
            sql.SQL("INSERT INTO {} (role_name, tenant_id) VALUES (%s, %s)").format(
                sql.Identifier(SCHEMA, "tenant_members")
            ),
            (role, tenant_id),
        )
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(DEVICE_GROUP_ROLE), ident))
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None  # the server always answers this
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database[0]), ident)
    )
    return AddUserOutcome(
        tenant=tenant,
        tenant_id=tenant_id,
        tenant_created=tenant_created,
        role=role,
        role_created=found is None,
        login_granted=found is not None and not found.can_login,
        member_added=member_of is None,
        password_set=password is not None,
        generated_password=generated,
    )


def _tenant(conn: psycopg.Connection[Any], name: str) -> tuple[str, bool]:
    """The tenant's id, made if missing; whether it was made."""
    tenants = sql.Identifier(SCHEMA, "tenants")
    created = conn.execute(
        sql.SQL(
            "INSERT INTO {} (name) VALUES (%s) ON CONFLICT (name) DO NOTHING RETURNING id"
        ).format(tenants),
        (name,),
    ).fetchone()
    if created is not None:
        return str(created[0]), True
    row = conn.execute(sql.SQL("SELECT id FROM {} WHERE name = %s").format(tenants), (name,))
    found = row.fetchone()
    assert found is not None  # the insert just found it there
    return str(found[0]), False


@dataclass(frozen=True, slots=True)
class _ExistingRole:
    """What matters about a role that is there already (a row of pg_roles)."""

    superuser: bool
    bypass_rls: bool
    can_login: bool
    inherit: bool
    is_me: bool


def _check_existing(role: str, found: _ExistingRole) -> None:
    """Refuse an existing role that row-level security would not confine."""
    reason = None
    if found.is_me:
        reason = "is the administrator's own role"
    elif found.superuser:
        reason = "is a superuser, which row-level security does not hold"
    elif found.bypass_rls:
        reason = "has BYPASSRLS, so row-level security does not hold it"
    elif not found.inherit:
        reason = "has NOINHERIT, so it would not get the rights of its group"
    if reason:
        raise SyncError(
            f"The role {role!r} {reason}.",
            problem=ServerProblem.INVALID,
            hint="Give the device a role of its own (add-user creates it). Nothing was changed.",
        )


def _verifier(conn: psycopg.Connection[Any], role: str, password: str) -> str:
    """The password as the server stores it (SCRAM by default), hashed here."""
    hashed = conn.pgconn.encrypt_password(password.encode(), role.encode())
    return hashed.decode()
