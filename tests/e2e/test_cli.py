"""The real ``atom-desktop`` program, started as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop import __version__
from tests.support.agent_process import AgentProcess, agent_env
from tests.support.secret_service import SecretServiceSession

pytestmark = pytest.mark.e2e
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture
def profile(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "data", tmp_path / "config"


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.kill()


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_version_and_help_from_both_entry_points() -> None:
    script = shutil.which("atom-desktop", path=str(Path(sys.executable).parent))
    assert script is not None, "the atom-desktop console script is not installed"
    for prefix in ([script], [sys.executable, "-m", "atom_desktop"]):
        version = _run([*prefix, "--version"])
        assert version.returncode == 0
        assert version.stdout.strip() == f"atom-desktop {__version__}"
        help_text = _run([*prefix, "--help"])
        assert help_text.returncode == 0
        for option in ("--data-dir", "--config-dir", "--log-level", "serve"):
            assert option in help_text.stdout


def test_importing_the_package_does_no_work() -> None:
    code = (
        "import sys, atom_desktop, atom_desktop.cli;"
        "heavy = [m for m in ('PySide6', 'fastapi', 'sqlalchemy', 'keyring', 'alembic') "
        "if m in sys.modules];"
        "print(','.join(heavy))"
    )
    result = _run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_serve_reports_the_real_keyring_and_stops_on_sigterm(
    secret_service: SecretServiceSession, profile: tuple[Path, Path], agents: list[AgentProcess]
) -> None:
    env = agent_env(secret_service.env, *profile)
    agent = AgentProcess(["serve"], env)
    agents.append(agent)
    agent.wait_for("agent running")
    assert "Key storage: OS keyring (keyring.backends.SecretService.Keyring)" in agent.output
    assert agent.stop(signal.SIGTERM) == 0
    # The console carries the agent's own lines, not its libraries' routine ones.
    assert "apscheduler" not in agent.output
    assert "uvicorn" not in agent.output
    assert "Agent stopped" in agent.output
    log = profile[0] / "logs" / "atom-desktop.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e["message"].startswith("Key storage: OS keyring") for e in entries)


def test_serve_without_keyring_uses_a_key_file_and_warns_every_start(
    profile: tuple[Path, Path], agents: list[AgentProcess]
) -> None:
    env = agent_env(dict(os.environ), *profile, NO_KEYRING)
    for _ in range(2):
        agent = AgentProcess(["serve"], env)
        agents.append(agent)
        agent.wait_for("agent running")
        assert "Key storage: key file" in agent.output
        assert "WARNING" in agent.output
        assert "not in an OS keyring" in agent.output
        assert agent.stop(signal.SIGINT) == 0
    key_files = list((profile[1] / "keys").iterdir())
    assert len(key_files) == 1
    assert key_files[0].stat().st_mode & 0o777 == 0o600
    # The key itself never reaches the log.
    log = (profile[0] / "logs" / "atom-desktop.jsonl").read_text()
    assert key_files[0].read_text().strip() not in log


def test_strict_key_storage_without_keyring_is_refused(profile: tuple[Path, Path]) -> None:
    env = agent_env(dict(os.environ), *profile, {"ATOM_KEY_STORAGE": "keyring", **NO_KEYRING})
    result = _run([sys.executable, "-m", "atom_desktop", "serve"], env)
    assert result.returncode == 1
    assert "ATOM_KEY_STORAGE=keyring allows no key file" in result.stderr
    assert not (profile[0] / "atom.db").exists()


def test_invalid_setting_exits_2_naming_key_value_and_file(profile: tuple[Path, Path]) -> None:
    data_dir, config_dir = profile
    config_dir.mkdir(parents=True)
    (config_dir / "config.toml").write_text('log_level = "chatty"\n')
    env = agent_env(dict(os.environ), data_dir, config_dir)
    result = _run([sys.executable, "-m", "atom_desktop", "serve"], env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1  # one message
    assert "log_level" in result.stderr
    assert "'chatty'" in result.stderr
    assert str(config_dir / "config.toml") in result.stderr
    assert not data_dir.exists()


def test_bad_log_level_option_exits_2(profile: tuple[Path, Path]) -> None:
    env = agent_env(dict(os.environ), *profile)
    result = _run([sys.executable, "-m", "atom_desktop", "--log-level", "LOUD", "serve"], env)
    assert result.returncode == 2
    assert "--log-level" in result.stderr


def test_without_a_display_the_app_says_so_and_serves(
    profile: tuple[Path, Path], agents: list[AgentProcess]
) -> None:
    env = agent_env(dict(os.environ), *profile, NO_KEYRING)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    agent = AgentProcess([], env)
    agents.append(agent)
    agent.wait_for("agent running")
    notices = [line for line in agent.output.splitlines() if "no display found" in line]
    assert len(notices) == 1
    assert "atom-desktop serve" in notices[0]
    assert agent.stop() == 0


def test_options_after_the_subcommand_work_too(tmp_path: Path, agents: list[AgentProcess]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATOM_")}
    env |= NO_KEYRING | {"ATOM_PORT": "0"}
    agent = AgentProcess(
        [
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--config-dir",
            str(tmp_path / "c"),
            "--log-level",
            "debug",
        ],
        env,
    )
    agents.append(agent)
    agent.wait_for("agent running")
    assert "DEBUG" in agent.output
    assert agent.stop() == 0
    assert (tmp_path / "d" / "atom.db").exists()
