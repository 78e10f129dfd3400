"""A real agent process for the command-line tests, and the CLI run against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent_process import AgentProcess, agent_env
from tests.support.secret_service import SecretServiceSession


@pytest.fixture
def running(
    secret_service: SecretServiceSession, tmp_path: Path
) -> Iterator[tuple[AgentProcess, dict[str, str]]]:
    """``serve`` with a real keyring (debug logs), and the environment a client runs in."""
    env = agent_env(secret_service.env, tmp_path / "data", tmp_path / "config")
    env["ATOM_LOG_LEVEL"] = "DEBUG"
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        # The CLI finds the port in the lock file, as a person's shell would.
        yield agent, {k: v for k, v in env.items() if k != "ATOM_PORT"}
    finally:
        agent.kill()
