"""Row-level security: a role of tenant A reaches none of tenant B's rows through SQL."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from atom_desktop.sync.server.schema import SYNCED_TABLES
from tests.support.sync_server import Device, DeviceFactory, SyncDatabase

_INSERT = {
    "tasks": "INSERT INTO atom_sync.tasks (id, data, hlc, device_id{extra}) "
    "VALUES (%s, '{{\"title\": \"t\"}}', 1, 'dev'{values})",
    "automations": "INSERT INTO atom_sync.automations (id, data, hlc, device_id{extra}) "
    "VALUES (%s, '{{\"name\": \"a\"}}', 1, 'dev'{values})",
    "run_summaries": "INSERT INTO atom_sync.run_summaries "
    "(id, command, status, hlc, device_id{extra}) VALUES (%s, 'ls', 'succeeded', 1, 'dev'{values})",
}


def _insert(
    conn: psycopg.Connection[Any], table: str, row_id: str, tenant_id: str | None = None
) -> None:
    extra, values = (", tenant_id", ", %s") if tenant_id else ("", "")
    params = (row_id, tenant_id) if tenant_id else (row_id,)
    conn.execute(_INSERT[table].format(extra=extra, values=values), params)


def _rows(db: SyncDatabase) -> list[tuple[Any, ...]]:
    """Every synced row, as the administrator sees them."""
    with db.connect_admin() as conn:
        return [
            (table, *row)
            for table in SYNCED_TABLES
            for row in conn.execute(
                sql.SQL("SELECT tenant_id, id, hlc, deleted, change_id FROM {} ORDER BY id").format(
                    sql.Identifier("atom_sync", table)
                )
            )
        ]


@pytest.fixture
def tenants(make_device: DeviceFactory, synced: SyncDatabase) -> tuple[Device, Device]:
    """Devices of tenants A and B; B has one row in each synced table."""
    a, b = make_device("a", "tenant-a"), make_device("b", "tenant-b")
    with synced.connect_as(b.role, b.password) as conn:
        for table in SYNCED_TABLES:
            _insert(conn, table, "b-row")
    return a, b


@pytest.mark.parametrize("table", SYNCED_TABLES)
def test_another_tenants_rows_cannot_be_read_or_changed(
    synced: SyncDatabase, tenants: tuple[Device, Device], table: str
) -> None:
    a, b = tenants
    before = _rows(synced)
    target = sql.Identifier("atom_sync", table)
    with synced.connect_as(a.role, a.password, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT * FROM {}").format(target)).fetchall() == []
        by_id = sql.SQL("SELECT * FROM {} WHERE tenant_id = %s AND id = 'b-row'").format(target)
        assert conn.execute(by_id, (b.tenant_id,)).fetchall() == []
        # Updates and tombstones aimed at B's row find nothing to change.
        for statement in (
            "UPDATE {} SET hlc = 99 WHERE id = 'b-row'",
            "UPDATE {} SET deleted = true WHERE tenant_id = %(b)s",
            "UPDATE {} SET hlc = 99",
        ):
            cur = conn.execute(sql.SQL(statement).format(target), {"b": b.tenant_id})
            assert cur.rowcount == 0
        # Writing B's tenant id, plainly or as an upsert onto B's key, is refused.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _insert(conn, table, "a-into-b", tenant_id=b.tenant_id)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (tenant_id, id, hlc, device_id) VALUES (%s, 'b-row', 9, 'x') "
                    "ON CONFLICT (tenant_id, id) DO UPDATE SET hlc = 9"
                ).format(target),
                (b.tenant_id,),
            )
        # Nor can A's own row be moved into B.
        _insert(conn, table, "a-row")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("UPDATE {} SET tenant_id = %s").format(target), (b.tenant_id,))
        # No DELETE at all: deletes are tombstones.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("DELETE FROM {}").format(target))
        # B's id used by A is A's own row, beside B's.
        _insert(conn, table, "b-row")
        mine = conn.execute(sql.SQL("SELECT tenant_id, id FROM {} ORDER BY id").format(target))
        assert mine.fetchall() == [(a.tenant_id, "a-row"), (a.tenant_id, "b-row")]
    after = [row for row in _rows(synced) if row[1] == b.tenant_id]
    assert after == [row for row in before if row[1] == b.tenant_id]
    assert len(after) == len(SYNCED_TABLES)


def test_membership_and_tenants_show_only_ones_own(
    synced: SyncDatabase, tenants: tuple[Device, Device]
) -> None:
    a, b = tenants
    with synced.connect_as(a.role, a.password, autocommit=True) as conn:
        members = conn.execute("SELECT role_name, tenant_id FROM atom_sync.tenant_members")
        assert members.fetchall() == [(a.role, a.tenant_id)]
        tenants_seen = conn.execute("SELECT id, name FROM atom_sync.tenants").fetchall()
        assert tenants_seen == [(a.tenant_id, "tenant-a")]
        for statement in (
            "INSERT INTO atom_sync.tenant_members (role_name, tenant_id) VALUES (current_user, %s)",
            "UPDATE atom_sync.tenant_members SET tenant_id = %s",
            "INSERT INTO atom_sync.tenants (id, name) VALUES (%s, 'mine now')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement, (b.tenant_id,))


def test_a_device_cannot_step_around_the_policies(
    synced: SyncDatabase, tenants: tuple[Device, Device]
) -> None:
    a, b = tenants
    with synced.connect_as(a.role, a.password, autocommit=True) as conn:
        for statement in (
            f'SET ROLE "{b.role}"',
            "ALTER TABLE atom_sync.tasks DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE atom_sync.tasks NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY tenant_rows ON atom_sync.tasks",
            "TRUNCATE atom_sync.tasks",
            "SELECT setval('atom_sync.change_id_seq', 1)",
            "CREATE FUNCTION atom_sync.current_tenant(x int) RETURNS text "
            "LANGUAGE sql AS $$ SELECT 'x' $$",
        ):
            with pytest.raises(
                (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedObject)
            ):
                conn.execute(statement)
        # Through the group role, a device has no tenant at all, so sees nothing.
        conn.execute("SET ROLE atom_sync_device")
        assert conn.execute("SELECT count(*) FROM atom_sync.tasks").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _insert(conn, "tasks", "orphan")
