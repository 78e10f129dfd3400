"""After a SIGKILL of the agent, nothing its runs started keeps running."""

from __future__ import annotations

import os
import secrets
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.api.test_runs import _no_sleepers_left, _wait_for_process
from tests.support.agent_process import AgentProcess, agent_env
from tests.support.secret_service import SecretServiceSession

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Profile:
    """One data directory's agent, started and killed as a person's would be."""

    def __init__(self, secret_service: SecretServiceSession, tmp_path: Path) -> None:
        self.port = _free_port()
        self.token = "atom_" + secrets.token_urlsafe(32)
        self.env = agent_env(
            secret_service.env,
            tmp_path / "data",
            tmp_path / "config",
            {"ATOM_PORT": str(self.port), "ATOM_API_TOKEN": self.token, "ATOM_LOG_LEVEL": "DEBUG"},
        )
        self.agent: AgentProcess | None = None

    def start(self) -> AgentProcess:
        self.agent = AgentProcess(["serve"], self.env)
        self.agent.wait_for("agent running")
        return self.agent

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )


@pytest.fixture
def profile(secret_service: SecretServiceSession, tmp_path: Path) -> Iterator[Profile]:
    made = Profile(secret_service, tmp_path)
    try:
        yield made
    finally:
        if made.agent is not None:
            made.agent.kill()


def _escapes(tmp_path: Path) -> tuple[str, list[str]]:
    """A shell line whose processes try every way out, and their command lines."""
    tag = f"{os.getpid() % 1000}{len(str(tmp_path)) % 100}"
    detached, double_forked, main = (f"sleep 21{i}{tag}" for i in range(3))
    line = f"setsid -f env -i {detached}; ( {double_forked} & ); {main}"
    return line, [detached, double_forked, main]


def _start_run(profile: Profile, line: str, sleeps: list[str]) -> str:
    with profile.client() as client:
        response = client.post("/api/v1/runs", json={"shell": line})
        response.raise_for_status()
        run_id = str(response.json()["id"])
    for cmdline in sleeps:
        _wait_for_process(cmdline)
    return run_id


def _status(profile: Profile, run_id: str) -> str:
    with profile.client() as client:
        return str(client.get(f"/api/v1/runs/{run_id}").json()["status"])


def test_a_killed_agent_leaves_no_process_of_its_runs(profile: Profile, tmp_path: Path) -> None:
    agent = profile.start()
    line, sleeps = _escapes(tmp_path)
    run_id = _start_run(profile, line, sleeps)
    agent.stop(signal.SIGKILL)
    # The run's supervisor is told of the agent's death by the kernel.
    for cmdline in sleeps:
        assert _no_sleepers_left(cmdline, timeout=15), f"{cmdline} outlived the killed agent"
    profile.start()
    assert _status(profile, run_id) == "interrupted"


def test_the_next_start_ends_what_an_interrupted_run_left(profile: Profile, tmp_path: Path) -> None:
    agent = profile.start()
    line, sleeps = _escapes(tmp_path)
    run_id = _start_run(profile, line, sleeps)
    survivors = [_wait_for_process(cmdline) for cmdline in sleeps]
    # The agent stores what each run owns as it finds it (it looks five times a second).
    for proc in survivors:
        agent.wait_for(f"Remembered process {proc.pid} of run {run_id}", timeout=10)
    # The agent and every supervisor die at once, as in a kill of the whole
    # process group or an out-of-memory kill: nothing is told of the crash.
    # The supervisors first: killed after the agent, they would already be
    # ending the run, as they are told to when the agent dies.
    doomed = [*psutil.Process(agent.proc.pid).children(), psutil.Process(agent.proc.pid)]
    for proc in doomed:
        proc.send_signal(signal.SIGKILL)
    agent.wait()
    assert all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in survivors)

    restarted = profile.start()
    for cmdline in sleeps:
        assert _no_sleepers_left(cmdline, timeout=15), f"{cmdline} survived the restart"
    assert _status(profile, run_id) == "interrupted"
    restarted.wait_for("left running", timeout=5)
