"""``serve --port/--host`` (and the app's), against real agent processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.agent_process import AgentProcess, agent_env
from tests.support.agent_process import run_cli as cli
from tests.support.ports import free_port
from tests.support.secret_service import SecretServiceSession

pytestmark = pytest.mark.e2e


def test_serve_listens_where_port_and_host_say(
    secret_service: SecretServiceSession, tmp_path: Path
) -> None:
    env = agent_env(secret_service.env, tmp_path / "data", tmp_path / "config")
    port = free_port()
    # The options win over ATOM_PORT=0 in the environment.
    agent = AgentProcess(["serve", "--port", str(port), "--host", "127.0.0.1"], env)
    try:
        agent.wait_for("agent running")
        assert f"API listening on http://127.0.0.1:{port}" in agent.output
        lock = json.loads((tmp_path / "data" / "agent.lock").read_text())
        assert lock["port"] == port
        client_env = {k: v for k, v in env.items() if k != "ATOM_PORT"}
        assert f"127.0.0.1:{port}" in cli(client_env, "status").stdout
        # The busy-port message's advice works: --port is an option of serve.
        other = agent_env(secret_service.env, tmp_path / "other", tmp_path / "other-config")
        refused = cli(other, "--port", str(port), "serve")
        assert refused.returncode == 2
        assert f"Port {port}" in refused.stderr and "--port" in refused.stderr
        assert agent.stop() == 0
    finally:
        agent.kill()


def test_port_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config")
    refused = cli(env, "--port", "9", "status")
    assert refused.returncode == 2
    assert "--port and --host go with the desktop app or 'serve'" in refused.stderr
