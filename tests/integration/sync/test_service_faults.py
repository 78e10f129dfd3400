"""The sync service of a running agent when its server restarts or changes under it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import psycopg

from atom_desktop.sync.server.migrator import init_server
from atom_desktop.sync.server.schema import SERVER_SCHEMA_VERSION
from atom_desktop.sync.server.users import add_user
from tests.integration.api.conftest import live_agent
from tests.integration.api.test_automations import until
from tests.integration.sync.test_service import (
    _create,
    _is_up_to_date,
    _settings,
    _status,
    _titles,
    _url,
)
from tests.support.postgres import running_postgres, stopped_postgres
from tests.support.sync_server import Device, DeviceFactory, SyncDatabase


def _on_server(synced: SyncDatabase, title: str) -> int:
    with synced.connect_admin() as conn:
        row = conn.execute(
            "SELECT count(*) FROM atom_sync.tasks WHERE data ->> 'title' = %s", (title,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@contextlib.contextmanager
def _own_server() -> Iterator[tuple[SyncDatabase, Device]]:
    """A server of this test's own (a restarted server's processes are the test's children,
    so the session's cannot be the one restarted) with the schema and one device."""
    with running_postgres() as server:
        synced = SyncDatabase(server, "restart_db", "restart")
        with psycopg.connect(server.admin_url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE restart_db")
        init_server(synced.admin)
        password = f"pw-{uuid.uuid4().hex}"
        role = synced.role("device")
        outcome = add_user(synced.admin, tenant="acme", role=role, password=password)
        yield synced, Device(role, password, outcome.tenant_id)


def test_a_restarted_server_is_offline_meanwhile_and_caught_up_by_itself(tmp_path: Path) -> None:
    with (
        _own_server() as (synced, device),
        live_agent(_settings(tmp_path, "r", _url(synced, device.role, device.password))) as agent,
    ):
        until(partial(_is_up_to_date, agent), what="first sync")
        _create(agent, "made before the restart")
        until(lambda: _on_server(synced, "made before the restart") == 1, what="the first push")
        with stopped_postgres(synced.server):
            _create(agent, "made while the server was down")  # local work goes on
            # The session in use is lost first (offline, "was lost"); the retries
            # then find nothing listening (offline, "refused").
            status = until(
                lambda: (
                    (s := _status(agent))["state"] == "offline"
                    and "refused the connection" in s["last_error"]
                    and s
                ),
                what="offline, refused",
            )
            assert status["pending"] >= 1
        # No sync asked for: the retries find the server again.
        until(
            lambda: (s := _status(agent))["state"] == "up_to_date" and s["pending"] == 0,
            what="recovery",
        )
        assert _on_server(synced, "made while the server was down") == 1
        assert _on_server(synced, "made before the restart") == 1
        assert _status(agent)["last_error"] is None


def test_a_schema_made_newer_while_the_agent_runs_stops_sync_and_not_local_work(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("schema", "acme")
    with live_agent(_settings(tmp_path, "s", _url(synced, device.role, device.password))) as agent:
        until(partial(_is_up_to_date, agent), what="first sync")
        with synced.connect_admin(autocommit=True) as conn:
            conn.execute("UPDATE atom_sync.atom_sync_version SET version_num = '9999'")
        _create(agent, "made after the upgrade")
        with agent.client() as client:
            run = client.post("/api/v1/sync/run").json()["run"]
        status = until(
            lambda: s if max((s := _status(agent))["failed"], s["completed"]) >= run else None,
            what="the sync asked for",
        )
        assert status["failed"] >= run
        assert status["state"] == "error"
        assert "9999" in status["last_error"]
        assert f"up to {SERVER_SCHEMA_VERSION}" in status["last_error"]
        assert "Install the newer ATOM Desktop" in status["last_error"]
        assert status["pending"] >= 1
        assert _on_server(synced, "made after the upgrade") == 0  # nothing was changed
        _create(agent, "and after the failure")
        assert {"made after the upgrade", "and after the failure"} <= _titles(agent)
