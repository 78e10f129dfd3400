"""``atom-desktop doctor`` as a person runs it: a real process against a real profile,
keyring (gnome-keyring on D-Bus), display with a tray (Xvfb + trayer) and sockets.

Each broken setup is made for real: a locked keyring, a port another socket
holds, a data folder the doctor's process may not write to (for root, whom
permission bits do not stop, the doctor runs without CAP_DAC_OVERRIDE, as
an ordinary user's process would), a data folder under a regular file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_process import AgentProcess, agent_env
from tests.support.secret_service import SecretServiceSession
from tests.support.x_display import XDisplay, running_display

pytestmark = [pytest.mark.e2e, pytest.mark.keyring]


def doctor(env: dict[str, str], *, prefix: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    """Run ``python -m atom_desktop doctor --json``; its exit code and findings by check."""
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "atom_desktop", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is (done.returncode == 0)
    return done.returncode, {c["check"]: c for c in document["checks"]}


def outcomes(found: dict[str, Any]) -> dict[str, str]:
    return {name: check["outcome"] for name, check in found.items()}


@pytest.fixture
def profile_env(secret_service: SecretServiceSession, tmp_path: Path) -> dict[str, str]:
    """A profile whose agent has started once (database, key in the keyring) and stopped."""
    env = agent_env(secret_service.env, tmp_path / "data", tmp_path / "config")
    env.pop("QT_QPA_PLATFORM", None)
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
    except BaseException:
        agent.kill()
        raise
    assert agent.stop(signal.SIGTERM) == 0, agent.output
    return env


@pytest.fixture
def display() -> Iterator[XDisplay]:
    with running_display() as running:
        yield running


def test_a_healthy_setup_is_all_ok_and_exits_0(
    profile_env: dict[str, str], display: XDisplay
) -> None:
    env = {**profile_env, **display.env()}
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        # As a person's shell: the doctor finds the agent's port in its lock file.
        code, found = doctor({k: v for k, v in env.items() if k != "ATOM_PORT"})
    finally:
        assert agent.stop(signal.SIGTERM) == 0, agent.output
    assert code == 0, found
    assert outcomes(found) == {
        "python": "ok",
        "qt": "ok",
        "display": "ok",
        "tray": "ok",
        "keyring": "ok",
        "database-key": "ok",
        "database": "ok",
        "data-dir": "ok",
        "free-space": "ok",
        "api-port": "ok",
        "agent": "ok",
        "autostart": "ok",
        "sync": "skipped",
        "integrations": "skipped",
    }
    assert "SecretService" in found["keyring"]["found"]
    assert "quick_check" in found["database"]["found"]
    assert "used by this profile's agent" in found["api-port"]["found"]


def test_a_locked_keyring_is_a_problem_with_what_to_do(
    profile_env: dict[str, str], secret_service: SecretServiceSession
) -> None:
    secret_service.lock()
    code, found = doctor(profile_env)
    assert code == 1
    assert found["keyring"]["outcome"] == "problem"
    assert "locked" in found["keyring"]["found"]
    assert "Unlock" in found["keyring"]["fix"]
    # The key is in that keyring: the database cannot be opened either, and is left alone.
    assert found["database-key"]["outcome"] == "problem"
    assert "left untouched" in found["database-key"]["fix"]
    assert "database" not in found


def test_a_busy_port_is_a_problem_naming_the_port_and_its_holder(
    profile_env: dict[str, str],
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        code, found = doctor({**profile_env, "ATOM_PORT": str(port)})
    assert code == 1
    check = found["api-port"]
    assert check["outcome"] == "problem"
    assert f"127.0.0.1:{port} is in use by PID {os.getpid()}" in check["found"]
    assert "ATOM_PORT" in check["fix"]
    assert outcomes(found)["keyring"] == "ok"


def _without_dac_override() -> tuple[str, ...]:
    """Run as root without the capability that lets root write anywhere (else: as is)."""
    if os.geteuid() != 0:
        return ()
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


def test_a_read_only_data_dir_is_a_problem(profile_env: dict[str, str]) -> None:
    data = Path(profile_env["ATOM_DATA_DIR"])
    data.chmod(0o500)
    try:
        code, found = doctor(profile_env, prefix=_without_dac_override())
    finally:
        data.chmod(0o700)
    assert code == 1
    check = found["data-dir"]
    assert check["outcome"] == "problem"
    assert f"{data} is not writable: Permission denied" == check["found"]
    assert "chmod u+rwx" in check["fix"]


def test_a_data_dir_under_a_file_is_a_problem_and_nothing_is_made(
    secret_service: SecretServiceSession, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = agent_env(secret_service.env, blocker / "data", tmp_path / "config")
    code, found = doctor(env)
    assert code == 1
    assert found["data-dir"]["outcome"] == "problem"
    assert f"{blocker} is not a folder" in found["data-dir"]["found"]
    assert found["database-key"]["outcome"] == "skipped"
    assert not (tmp_path / "config").exists()  # the doctor only looks
