"""The change sequence, tombstones, the per-tenant commit order and NOTIFY."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from atom_desktop.sync.server.schema import notify_channel
from tests.support.sync_server import Device, DeviceFactory, SyncDatabase

# What the push will send: insert, or update when the incoming clock is newer.
_UPSERT = {
    "tasks": (
        "INSERT INTO atom_sync.tasks AS t (id, data, hlc, device_id, deleted, change_id) "
        "VALUES (%(id)s, %(data)s, %(hlc)s, 'dev', %(deleted)s, -1) "
        "ON CONFLICT (tenant_id, id) DO UPDATE SET data = EXCLUDED.data, hlc = EXCLUDED.hlc, "
        "device_id = EXCLUDED.device_id, deleted = EXCLUDED.deleted "
        "WHERE (EXCLUDED.hlc, EXCLUDED.device_id) > (t.hlc, t.device_id) "
        "RETURNING change_id, data, deleted"
    ),
    "automations": (
        "INSERT INTO atom_sync.automations AS t (id, data, hlc, device_id, deleted) "
        "VALUES (%(id)s, %(data)s, %(hlc)s, 'dev', %(deleted)s) "
        "ON CONFLICT (tenant_id, id) DO UPDATE SET data = EXCLUDED.data, hlc = EXCLUDED.hlc, "
        "deleted = EXCLUDED.deleted "
        "WHERE (EXCLUDED.hlc, EXCLUDED.device_id) > (t.hlc, t.device_id) "
        "RETURNING change_id, data, deleted"
    ),
    "run_summaries": (
        "INSERT INTO atom_sync.run_summaries AS t (id, command, status, hlc, device_id, deleted) "
        "VALUES (%(id)s, 'make', %(status)s, %(hlc)s, 'dev', %(deleted)s) "
        "ON CONFLICT (tenant_id, id) DO UPDATE SET status = EXCLUDED.status, hlc = EXCLUDED.hlc, "
        "deleted = EXCLUDED.deleted "
        "WHERE (EXCLUDED.hlc, EXCLUDED.device_id) > (t.hlc, t.device_id) "
        "RETURNING change_id, NULL::jsonb, deleted"
    ),
}


def _upsert(
    conn: psycopg.Connection[Any], table: str, row_id: str, hlc: int, *, deleted: bool = False
) -> tuple[Any, ...] | None:
    params = {
        "id": row_id,
        "hlc": hlc,
        "deleted": deleted,
        "data": json.dumps({"title": f"v{hlc}"}),
        "status": "succeeded" if hlc > 1 else "running",
    }
    return conn.execute(_UPSERT[table], params).fetchone()


@pytest.fixture
def device(make_device: DeviceFactory) -> Device:
    return make_device("laptop", "acme")


def test_change_id_grows_on_every_upsert_and_tombstone(
    synced: SyncDatabase, device: Device
) -> None:
    seen: list[int] = []
    with synced.connect_as(device.role, device.password, autocommit=True) as conn:
        for hlc in (1, 2):
            for table in _UPSERT:
                row = _upsert(conn, table, "r1", hlc)
                assert row is not None
                seen.append(row[0])
        for table in _UPSERT:
            row = _upsert(conn, table, "r1", 3, deleted=True)
            assert row is not None
            seen.append(row[0])
            assert row[2] is True
            # A tombstone keeps no content on the server.
            assert row[1] in (None, {})
        # An older (or equal) clock changes nothing, and so takes no change_id.
        for table in _UPSERT:
            assert _upsert(conn, table, "r1", 2) is None
            assert _upsert(conn, table, "r1", 3, deleted=True) is None
        last = conn.execute(
            "SELECT max(change_id) FROM (SELECT change_id FROM atom_sync.tasks UNION ALL "
            "SELECT change_id FROM atom_sync.automations UNION ALL "
            "SELECT change_id FROM atom_sync.run_summaries) c"
        ).fetchone()
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen) == 9
    assert min(seen) > 0  # the client's -1 was overwritten
    assert last == (seen[-1],)


def test_one_tenants_writers_take_turns_and_others_do_not_wait(
    synced: SyncDatabase, device: Device, make_device: DeviceFactory
) -> None:
    other = make_device("other", "globex")
    with (
        synced.connect_as(device.role, device.password) as first,
        synced.connect_as(device.role, device.password) as second,
        synced.connect_as(other.role, other.password) as elsewhere,
    ):
        held = _upsert(first, "tasks", "a", 1)  # uncommitted: holds acme's turn
        assert held is not None
        second.execute("SET lock_timeout = '100ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            _upsert(second, "tasks", "b", 1)
        second.rollback()
        # Another tenant is not held up.
        assert _upsert(elsewhere, "tasks", "a", 1) is not None
        elsewhere.commit()
        first.commit()
        after = _upsert(second, "tasks", "b", 1)
        second.commit()
    assert after is not None
    assert after[0] > held[0]


def test_a_change_is_announced_on_its_tenants_channel(
    synced: SyncDatabase, device: Device, make_device: DeviceFactory
) -> None:
    other = make_device("other", "globex")
    with (
        synced.connect_as(device.role, device.password, autocommit=True) as listener,
        synced.connect_as(other.role, other.password, autocommit=True) as stranger,
        synced.connect_as(device.role, device.password) as writer,
    ):
        channel_row = listener.execute("SELECT atom_sync.notify_channel()").fetchone()
        assert channel_row == (notify_channel(device.tenant_id),)
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel_row[0])))
        stranger.execute(
            sql.SQL("LISTEN {}").format(sql.Identifier(notify_channel(other.tenant_id)))
        )
        # Two rows in one statement: one notification, with the higher change_id.
        rows = writer.execute(
            "INSERT INTO atom_sync.tasks (id, data, hlc, device_id) VALUES "
            "('n1', '{}', 1, 'dev'), ('n2', '{}', 1, 'dev') RETURNING change_id"
        ).fetchall()
        assert list(listener.notifies(timeout=0.05)) == []  # nothing before the commit
        writer.commit()
        got = list(listener.notifies(timeout=2, stop_after=1))
        got += list(listener.notifies(timeout=0.1))
        assert list(stranger.notifies(timeout=0.1)) == []
    assert len(got) == 1
    assert got[0].channel == notify_channel(device.tenant_id)
    assert json.loads(got[0].payload) == {"table": "tasks", "change_id": max(r[0] for r in rows)}
