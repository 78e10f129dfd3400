"""The sync service in a running agent: on by URL only, converging by NOTIFY, visible, resilient."""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import sql
from pydantic import SecretStr

from atom_desktop.config.settings import Settings
from atom_desktop.core.events import SyncStatusChanged
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.api.test_automations import until as _until
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase
from tests.support.tcp_proxy import TcpProxy


def _settings(tmp_path: Path, name: str, url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / name / "data",
        config_dir=tmp_path / name / "config",
        port=0,
        sync_url=None if url is None else SecretStr(url),
    )


def _url(synced: SyncDatabase, role: str, password: str, port: int | None = None) -> str:
    server = synced.server
    return f"postgresql://{role}@127.0.0.1:{port or server.port}/{synced.name}?password={password}"


def _status(agent: LiveAgent) -> dict[str, Any]:
    with agent.client() as client:
        response = client.get("/api/v1/sync/status")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def _is_up_to_date(agent: LiveAgent) -> bool:
    return bool(_status(agent)["state"] == "up_to_date")


def _announced_pending(agent: LiveAgent) -> bool:
    events, _ = agent.runtime.bus.since(0)
    return any(
        isinstance(e.payload, SyncStatusChanged)
        and e.payload.pending >= 1
        and e.payload.state == "offline"
        for e in events
    )


def _titles(agent: LiveAgent) -> set[str]:
    with agent.client() as client:
        response = client.get("/api/v1/tasks", params={"limit": 200})
        response.raise_for_status()
        return {item["title"] for item in response.json()["items"]}


def _create(agent: LiveAgent, title: str) -> None:
    with agent.client() as client:
        client.post("/api/v1/tasks", json={"title": title}).raise_for_status()


def test_sync_is_off_without_a_url(settings: Settings) -> None:
    with live_agent(settings) as agent, agent.client() as client:
        status = client.get("/api/v1/sync/status").json()
        assert status["state"] == "off"
        assert status["server"] is None
        assert agent.runtime.sync._listener is None  # nothing started, nothing connected
        refused = client.post("/api/v1/sync/run")
        assert refused.status_code == 409
        assert "ATOM_SYNC_URL" in refused.json()["error"]["message"]


def test_two_agents_converge_through_the_service(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    a, b = make_device("a", "acme"), make_device("b", "acme")
    with (
        live_agent(_settings(tmp_path, "a", _url(synced, a.role, a.password))) as agent_a,
        live_agent(_settings(tmp_path, "b", _url(synced, b.role, b.password))) as agent_b,
    ):
        for agent in (agent_a, agent_b):
            _until(partial(_is_up_to_date, agent), what="first sync")
        started = time.monotonic()
        _create(agent_a, "made on A")
        # Polling runs every 30 s: seeing it this soon on B means NOTIFY woke B.
        _until(lambda: "made on A" in _titles(agent_b), timeout=5, what="the task on B")
        assert time.monotonic() - started < 5
        _create(agent_b, "made on B")
        _until(lambda: "made on B" in _titles(agent_a), timeout=5, what="the task on A")
        status = _until(
            lambda: (s := _status(agent_a))["state"] == "up_to_date" and s["pending"] == 0 and s,
            what="A up to date",
        )
        assert status["last_error"] is None
        assert status["last_success"] is not None
        assert status["conflicts"] == 0
        assert a.password not in str(status)
        assert (
            status["server"]
            == f"postgresql://{a.role}@127.0.0.1:{synced.server.port}/{synced.name}"
        )


def test_offline_keeps_local_work_and_recovers_without_the_password_anywhere(
    synced: SyncDatabase,
    make_device: DeviceFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    device = make_device("c", "acme")
    port = free_port()
    proxy = TcpProxy(port, ("127.0.0.1", synced.server.port))
    settings = _settings(tmp_path, "c", _url(synced, device.role, device.password, port))
    try:
        with live_agent(settings) as agent:
            status = _until(
                lambda: (s := _status(agent))["state"] == "offline" and s, what="offline"
            )
            assert "refused" in status["last_error"]
            _create(agent, "made offline")  # local work goes on
            status = _until(lambda: (s := _status(agent))["pending"] >= 1 and s, what="pending")
            assert status["state"] in ("offline", "syncing")
            assert status["oldest_pending"] is not None
            # The grown queue is announced while sync waits to retry, not at the retry.
            _until(partial(_announced_pending, agent), what="a sync.status event with the queue")
            texts = [str(status)]
            # The server comes back: a sync asked for now need not wait for the backoff.
            proxy.start()
            with agent.client() as client:
                accepted = client.post("/api/v1/sync/run")
            assert accepted.status_code == 202
            run = accepted.json()["run"]
            status = _until(
                lambda: (s := _status(agent))["completed"] >= run and s, what="the sync asked for"
            )
            assert status["state"] == "up_to_date"
            assert status["pending"] == 0
            assert status["last_error"] is None
            with synced.connect_admin() as conn:
                row = conn.execute(
                    "SELECT count(*) FROM atom_sync.tasks WHERE data ->> 'title' = %s",
                    ("made offline",),
                ).fetchone()
            assert row == (1,)
            texts.append(str(status))
    finally:
        proxy.stop()
    texts.append(caplog.text)
    assert "refused" in caplog.text
    assert all(device.password not in text for text in texts)


def test_a_url_that_cannot_be_read_is_an_error_not_a_failed_start(settings: Settings) -> None:
    url = SecretStr("postgresql://u:sekrit-pw@host/db?nosuchoption=1")
    broken = settings.model_copy(update={"sync_url": url})
    with (
        live_agent(broken) as agent,
        httpx.Client(
            base_url=agent.base_url, headers={"Authorization": f"Bearer {agent.owner_token}"}
        ) as client,
    ):
        status = client.get("/api/v1/sync/status").json()
        assert status["state"] == "error"
        assert "sekrit-pw" not in str(status)
        assert client.post("/api/v1/sync/run").status_code == 202
        assert client.get("/api/v1/sync/status").json()["failed"] == 1


def test_a_revoked_role_is_an_error_and_local_work_goes_on(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("revoked", "acme")
    settings = _settings(tmp_path, "r", _url(synced, device.role, device.password))
    with live_agent(settings) as agent:
        _until(partial(_is_up_to_date, agent), what="first sync")
        with synced.connect_admin(autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(device.role)))
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (device.role,),
            )
        _create(agent, "made after the revocation")
        with agent.client() as client:
            run = client.post("/api/v1/sync/run").json()["run"]
        status = _until(lambda: (s := _status(agent))["failed"] >= run and s, what="the failure")
        assert status["state"] == "error"
        assert "authentication failed" in status["last_error"]
        assert "not permitted to log in" in status["last_error"]
        assert device.password not in status["last_error"]
        assert status["pending"] >= 1
        assert "made after the revocation" in _titles(agent)


def test_a_server_that_goes_away_and_returns_is_caught_up_by_the_retries(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("flaky", "acme")
    port = free_port()
    proxy = TcpProxy(port, ("127.0.0.1", synced.server.port))
    proxy.start()
    settings = _settings(tmp_path, "f", _url(synced, device.role, device.password, port))
    try:
        with live_agent(settings) as agent:
            _until(partial(_is_up_to_date, agent), what="first sync")
            proxy.stop()  # every connection dropped, new ones refused
            _create(agent, "made while it was away")
            status = _until(
                lambda: (s := _status(agent))["state"] in ("offline", "error") and s,
                what="the failure",
            )
            assert status["pending"] >= 1
            proxy.start()
            # No sync asked for: the backoff's retry finds the server again.
            _until(
                lambda: (s := _status(agent))["state"] == "up_to_date" and s["pending"] == 0,
                timeout=15,
                what="recovery",
            )
    finally:
        proxy.stop()
