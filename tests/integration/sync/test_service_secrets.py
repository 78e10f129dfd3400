"""The sync password of a real ``serve`` process: in no log, output, file or command line."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil

from tests.support.agent_process import AgentProcess, agent_env
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase


def test_the_password_is_in_no_log_output_file_or_command_line(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("scan", "acme")
    # A closed port: every attempt fails, so every error path writes its text.
    url = f"postgresql://{device.role}:{device.password}@127.0.0.1:{free_port()}/{synced.name}"
    extra = {
        "ATOM_SYNC_URL": url,
        "ATOM_LOG_LEVEL": "DEBUG",
        "ATOM_LOG_DIR": str(tmp_path / "logs"),
    }
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config", extra)
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        agent.wait_for("Sync failed")
        command_line = " ".join(psutil.Process(agent.proc.pid).cmdline())
        assert agent.stop(signal.SIGTERM) == 0
    finally:
        agent.kill()
    assert "refused the connection" in agent.output
    assert device.password not in agent.output
    assert device.password not in command_line
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    logs = [path for path in files if path.parent == tmp_path / "logs"]
    assert any(b"Sync failed" in path.read_bytes() for path in logs)
    secret = device.password.encode()
    assert [path for path in files if secret in path.read_bytes()] == []
