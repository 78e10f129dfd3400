"""The real program refuses to start, before it creates anything, when it should.

A busy API port is found before the database, its key or the owner token is
made; a database that went missing or was emptied after a first start is
never replaced by a new, empty one; ``--reset-data`` starts fresh only when
asked to, and moves the old data aside instead of deleting it.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atom_desktop.secrets.api_token import OWNER_ENTRY
from atom_desktop.secrets.database_key import KEY_ENTRY
from atom_desktop.secrets.profile import keyring_service
from tests.support.agent_process import AgentProcess, agent_env, run_cli
from tests.support.secret_service import SecretServiceSession

pytestmark = pytest.mark.e2e
NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.fixture
def profile(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "data", tmp_path / "config"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket listens on for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def _first_start(env: dict[str, str]) -> None:
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
    except BaseException:
        agent.kill()
        raise
    assert agent.stop(signal.SIGTERM) == 0, agent.output


def _files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()} if directory.exists() else set()


# -- a busy port -----------------------------------------------------------------------


def test_busy_port_on_first_start_creates_no_database_key_or_token(
    secret_service: SecretServiceSession, profile: tuple[Path, Path], busy_port: int
) -> None:
    data_dir, config_dir = profile
    env = agent_env(secret_service.env, data_dir, config_dir, {"ATOM_PORT": str(busy_port)})
    result = run_cli(env, "serve")
    assert result.returncode == 2, result.stderr
    assert f"Port {busy_port}" in result.stderr
    assert not (data_dir / "atom.db").exists()
    assert not (data_dir / "key-record.json").exists()
    # Neither the database key nor the owner token reached the real keyring.
    backend = secret_service.backend()
    service = keyring_service(data_dir)
    assert backend.get_password(service, KEY_ENTRY) is None
    assert backend.get_password(service, OWNER_ENTRY) is None
    assert _files_in(config_dir) == set()


def test_busy_port_without_a_keyring_writes_no_key_or_token_file(
    profile: tuple[Path, Path], busy_port: int
) -> None:
    data_dir, config_dir = profile
    env = agent_env(dict(os.environ), data_dir, config_dir, NO_KEYRING)
    env["ATOM_PORT"] = str(busy_port)
    result = run_cli(env, "serve")
    assert result.returncode == 2, result.stderr
    assert f"Port {busy_port}" in result.stderr
    assert not (data_dir / "atom.db").exists()
    assert not (data_dir / "key-record.json").exists()
    assert not (config_dir / "keys").exists()
    assert not (config_dir / "tokens").exists()


def test_a_running_agent_is_reported_before_the_port(
    profile: tuple[Path, Path], busy_port: int
) -> None:
    """The instance lock is taken before the port: a second agent says who runs."""
    env = agent_env(dict(os.environ), *profile, NO_KEYRING)
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        second = run_cli({**env, "ATOM_PORT": str(busy_port)}, "serve")
        assert second.returncode == 1, second.stderr
        assert "already running" in second.stderr
        assert f"Port {busy_port}" not in second.stderr
    finally:
        assert agent.stop() == 0


# -- a missing or emptied database ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_missing_or_empty_database_after_a_first_start_is_refused(
    secret_service: SecretServiceSession, profile: tuple[Path, Path], damage: str
) -> None:
    data_dir, config_dir = profile
    env = agent_env(secret_service.env, data_dir, config_dir)
    _first_start(env)
    database = data_dir / "atom.db"
    key_before = secret_service.backend().get_password(keyring_service(data_dir), KEY_ENTRY)
    assert key_before is not None
    if damage == "deleted":
        for path in data_dir.glob("atom.db*"):
            path.unlink()
    else:
        database.write_bytes(b"")

    result = run_cli(env, "serve")

    assert result.returncode == 1, result.stderr
    message = result.stderr
    assert str(database) in message
    assert ("is missing" if damage == "deleted" else "is empty") in message
    assert "key-record.json" in message  # the key record is still there
    assert "backup" in message  # how to restore
    assert "--reset-data" in message  # how to start fresh on purpose
    # Nothing was made in its place, and the key is still there.
    if damage == "deleted":
        assert not database.exists()
    else:
        assert database.stat().st_size == 0
    assert (data_dir / "key-record.json").exists()
    assert secret_service.backend().get_password(keyring_service(data_dir), KEY_ENTRY) == key_before


def test_a_file_that_is_no_database_is_refused_and_kept(
    secret_service: SecretServiceSession, profile: tuple[Path, Path]
) -> None:
    data_dir, config_dir = profile
    env = agent_env(secret_service.env, data_dir, config_dir)
    _first_start(env)
    database = data_dir / "atom.db"
    junk = b"this is not an SQLCipher database\n" * 200
    database.write_bytes(junk)
    result = run_cli(env, "serve")
    assert result.returncode == 1, result.stderr
    assert str(database) in result.stderr
    assert "damaged" in result.stderr
    assert "--reset-data" in result.stderr
    assert database.read_bytes() == junk


# -- starting fresh on purpose ---------------------------------------------------------------


def test_reset_data_without_a_terminal_needs_yes_and_changes_nothing(
    profile: tuple[Path, Path],
) -> None:
    data_dir, config_dir = profile
    env = agent_env(dict(os.environ), data_dir, config_dir, NO_KEYRING)
    _first_start(env)
    before = {p.name: p.read_bytes() for p in data_dir.glob("atom.db*")}
    result = run_cli(env, "serve", "--reset-data", stdin="")
    assert result.returncode == 2, result.stderr
    assert "--yes" in result.stderr
    assert "not a terminal" in result.stderr
    assert {p.name: p.read_bytes() for p in data_dir.glob("atom.db*")} == before
    assert not list(data_dir.glob("reset-*"))


def test_reset_data_with_yes_moves_the_data_aside_and_starts_fresh(
    secret_service: SecretServiceSession, profile: tuple[Path, Path]
) -> None:
    data_dir, config_dir = profile
    env = agent_env(secret_service.env, data_dir, config_dir)
    _first_start(env)
    old_database = (data_dir / "atom.db").read_bytes()
    old_record = (data_dir / "key-record.json").read_bytes()
    (data_dir / "atom.db").unlink()  # the situation --reset-data is for

    agent = AgentProcess(["serve", "--reset-data", "--yes"], env)
    try:
        agent.wait_for("agent running")
    finally:
        code = agent.stop()
    assert code == 0, agent.output
    (aside,) = data_dir.glob("reset-*")
    assert aside.name[len("reset-") :].replace("-", "").isdigit()
    assert str(aside) in agent.output
    assert (aside / "key-record.json").read_bytes() == old_record
    assert not (aside / "atom.db").exists()  # there was none to move
    # A new database and record were made; the old key stayed in the keyring.
    assert (data_dir / "atom.db").stat().st_size > 0
    assert (data_dir / "atom.db").read_bytes() != old_database
    assert (data_dir / "key-record.json").exists()
    assert secret_service.backend().get_password(keyring_service(data_dir), KEY_ENTRY) is not None


def _on_a_terminal(env: dict[str, str], answer: bytes) -> tuple[subprocess.Popen[bytes], int]:
    """``serve --reset-data`` with a terminal for stdin; ``answer`` typed into it."""
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "atom_desktop", "serve", "--reset-data"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
    finally:
        os.close(terminal)
    os.write(controller, answer)
    return proc, controller


def _read_until(proc: subprocess.Popen[bytes], needle: str) -> str:
    """The output up to and including ``needle``, or all of it if the process ends first."""
    assert proc.stdout is not None
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while needle.encode() not in seen:
            if not selector.select(60):
                break
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_reset_data_on_a_terminal_asks_and_a_no_changes_nothing(
    profile: tuple[Path, Path],
) -> None:
    data_dir, config_dir = profile
    env = agent_env(dict(os.environ), data_dir, config_dir, NO_KEYRING)
    _first_start(env)
    before = {p.name: p.read_bytes() for p in data_dir.glob("atom.db*")}
    proc, controller = _on_a_terminal(env, b"no\n")
    try:
        output = _read_until(proc, "never-printed")
        code = proc.wait(60)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 1, output
    assert "RESET" in output  # the question
    assert "Nothing was changed" in output
    assert {p.name: p.read_bytes() for p in data_dir.glob("atom.db*")} == before
    assert not list(data_dir.glob("reset-*"))


def test_reset_data_on_a_terminal_goes_on_once_reset_is_typed(
    profile: tuple[Path, Path],
) -> None:
    data_dir, config_dir = profile
    env = agent_env(dict(os.environ), data_dir, config_dir, NO_KEYRING)
    _first_start(env)
    old_database = (data_dir / "atom.db").read_bytes()
    proc, controller = _on_a_terminal(env, b"RESET\n")
    try:
        output = _read_until(proc, "agent running")
        proc.send_signal(signal.SIGTERM)
        output += _read_until(proc, "never-printed")
        code = proc.wait(60)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 0, output
    assert "agent running" in output
    (aside,) = data_dir.glob("reset-*")
    assert (aside / "atom.db").read_bytes() == old_database
    assert (aside / "key-record.json").exists()
    assert (data_dir / "atom.db").read_bytes() != old_database


def test_reset_data_is_refused_while_an_agent_runs(profile: tuple[Path, Path]) -> None:
    env = agent_env(dict(os.environ), *profile, NO_KEYRING)
    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        result = run_cli(env, "serve", "--reset-data", "--yes", stdin="")
        assert result.returncode == 1, result.stderr
        assert "already running" in result.stderr
        assert (profile[0] / "atom.db").exists()
        assert not list(profile[0].glob("reset-*"))
    finally:
        assert agent.stop() == 0


def test_reset_data_goes_only_with_the_app_or_serve(profile: tuple[Path, Path]) -> None:
    env = agent_env(dict(os.environ), *profile, NO_KEYRING)
    result = run_cli(env, "--reset-data", "status")
    assert result.returncode == 2
    assert "--reset-data" in result.stderr
