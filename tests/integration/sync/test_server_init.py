"""``sync server init``: applies the server migrations once, says what it did, reads versions."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from atom_desktop.sync.errors import (
    ServerConnectError,
    ServerPermissionError,
    ServerProblem,
    ServerSchemaError,
    ServerSchemaTooNewError,
)
from atom_desktop.sync.server.connection import connect, parse_address
from atom_desktop.sync.server.migrator import head_revision, init_server
from atom_desktop.sync.server.schema import (
    SERVER_SCHEMA_VERSION,
    SYNCED_TABLES,
    check_server_version,
    read_server_version,
)
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atom_desktop", "sync", "server", *args],
        input=stdin, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_init_creates_the_schema_then_says_it_is_there(database: SyncDatabase) -> None:
    first = _cli("init", "--url", database.admin_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"created schema version {SERVER_SCHEMA_VERSION} on ")
    second = _cli("init", "--url", database.admin_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"already at version {SERVER_SCHEMA_VERSION} on ")
    assert first.stderr == second.stderr == ""
    with database.connect_admin() as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'atom_sync'"
            )
        }
        # Alembic's table is ours alone: nothing lands in public.
        public = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert public.fetchone() == (0,)
    assert tables == {"atom_sync_version", "tenants", "tenant_members", *SYNCED_TABLES}


def test_the_version_constant_is_alembics_head() -> None:
    assert head_revision() == SERVER_SCHEMA_VERSION


def test_the_version_is_readable_by_admin_and_device(
    synced: SyncDatabase, make_device: DeviceFactory
) -> None:
    device = make_device("laptop", "acme")
    with synced.connect_admin() as conn:
        assert read_server_version(conn) == SERVER_SCHEMA_VERSION
    with synced.connect_as(device.role, device.password) as conn:
        assert check_server_version(conn) == SERVER_SCHEMA_VERSION


def test_a_database_without_the_schema_says_so(database: SyncDatabase) -> None:
    with database.connect_admin() as conn:
        assert read_server_version(conn) is None
        with pytest.raises(ServerSchemaError, match="no ATOM sync schema") as info:
            check_server_version(conn)
    assert info.value.problem is ServerProblem.SCHEMA_MISSING
    assert "sync server init" in str(info.value)


def test_a_newer_schema_is_refused_and_left_alone(synced: SyncDatabase) -> None:
    with synced.connect_admin() as conn:
        conn.execute("UPDATE atom_sync.atom_sync_version SET version_num = '0099'")
        conn.commit()
        with pytest.raises(ServerSchemaTooNewError, match="0099") as info:
            check_server_version(conn)
    assert info.value.problem is ServerProblem.SCHEMA_TOO_NEW
    with pytest.raises(ServerSchemaTooNewError, match="Nothing was changed"):
        init_server(synced.admin)
    with synced.connect_admin() as conn:
        assert read_server_version(conn) == "0099"


def test_init_by_a_role_without_rights_says_which_are_missing(database: SyncDatabase) -> None:
    role = database.role("weak")
    with database.connect_admin(autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'weak-password'")
    # The password goes as an administrator would give it: by libpq's environment.
    url = database.server.tcp_url(role, database.name)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PGPASSWORD", "weak-password")
        with pytest.raises(ServerPermissionError) as info:
            init_server(parse_address(url))
    assert info.value.problem is ServerProblem.PERMISSION
    assert "CREATEROLE" in str(info.value)


def test_connection_failures_are_named(synced: SyncDatabase, make_device: DeviceFactory) -> None:
    device = make_device("laptop", "acme")
    wrong = parse_address(
        f"postgresql://{device.role}:not-the-password@127.0.0.1:{synced.server.port}/{synced.name}"
    )
    with pytest.raises(ServerConnectError) as info:
        connect(wrong)
    assert info.value.problem is ServerProblem.AUTHENTICATION
    assert "not-the-password" not in str(info.value)
    assert device.role in str(info.value)
    closed = parse_address(f"postgresql://{device.role}@127.0.0.1:{free_port()}/{synced.name}")
    with pytest.raises(ServerConnectError) as info:
        connect(closed)
    assert info.value.problem is ServerProblem.REFUSED
    missing = parse_address(synced.server.admin_url("no_such_database"))
    with pytest.raises(ServerConnectError) as info:
        connect(missing)
    assert info.value.problem is ServerProblem.DATABASE


def test_the_cli_names_a_failure_without_the_password() -> None:
    port = free_port()
    result = _cli("init", "--url", f"postgresql://admin:s3cret-admin-pw@127.0.0.1:{port}/x")
    assert result.returncode == 1
    assert "refused the connection" in result.stderr
    assert f"postgresql://admin@127.0.0.1:{port}/x" in result.stderr
    assert "s3cret-admin-pw" not in result.stdout + result.stderr


def test_device_roles_cannot_migrate(synced: SyncDatabase, make_device: DeviceFactory) -> None:
    device = make_device("laptop", "acme")
    with (
        synced.connect_as(device.role, device.password) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("CREATE TABLE atom_sync.mine (x int)")
