"""``atom-desktop sync status`` and ``sync now`` against a running agent and a real server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from pydantic import SecretStr

from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.support.agent_process import agent_env, run_cli
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase


def _profile(tmp_path: Path, url: str | None) -> tuple[Settings, dict[str, str]]:
    data, config = tmp_path / "data", tmp_path / "config"
    settings = Settings(
        data_dir=data, config_dir=config, port=0, sync_url=SecretStr(url) if url else None
    )
    return settings, agent_env(dict(os.environ), data, config)


def _sync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, "sync", *args)


def _at(env: dict[str, str], agent: LiveAgent) -> dict[str, str]:
    """``env`` pointed at the in-process agent's port (its lock file names this process)."""
    return {**env, "ATOM_PORT": str(agent.port)}


def test_with_sync_off_status_says_so_and_now_fails(tmp_path: Path) -> None:
    settings, env = _profile(tmp_path, None)
    with live_agent(settings) as agent:
        env = _at(env, agent)
        status = _sync(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["state"] == "off"
        assert "off (no server configured)" in _sync(env, "status").stdout
        now = _sync(env, "now", "--wait")
        assert now.returncode == 1
        assert "ATOM_SYNC_URL" in now.stderr


def test_now_wait_returns_when_up_to_date(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("cli", "acme")
    url = synced.server.tcp_url(device.role, synced.name) + f"?password={device.password}"
    settings, env = _profile(tmp_path, url)
    with live_agent(settings) as agent:
        env = _at(env, agent)
        with agent.client() as client:
            client.post("/api/v1/tasks", json={"title": "to push"}).raise_for_status()
        now = _sync(env, "now", "--wait", "--json")
        assert now.returncode == 0, now.stderr
        assert json.loads(now.stdout)["pending"] == 0
        status = json.loads(_sync(env, "status", "--json").stdout)
        assert {"state", "pending", "last_error", "conflicts"} <= status.keys()
        assert status["state"] == "up_to_date"
        assert (status["pending"], status["last_error"], status["conflicts"]) == (0, None, 0)
        human = _sync(env, "status").stdout
        assert "up to date" in human
        assert device.password not in human + json.dumps(status)


def test_now_wait_fails_with_the_error_when_the_server_is_down(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("down", "acme")
    url = f"postgresql://{device.role}:{device.password}@127.0.0.1:{free_port()}/{synced.name}"
    settings, env = _profile(tmp_path, url)
    with live_agent(settings) as agent:
        env = _at(env, agent)
        now = _sync(env, "now", "--wait")
        assert now.returncode == 1
        assert "refused the connection" in now.stderr
        status = _sync(env, "status")
        assert "offline" in status.stdout
        for text in (now.stdout, now.stderr, status.stdout):
            assert device.password not in text
