"""Turning sync on: ``sync test`` names each failure, ``sync connect`` keeps the password in
the OS keyring and out of the config file, and a running agent follows without a restart."""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from keyring.backends import SecretService
from psycopg.conninfo import conninfo_to_dict

from atom_desktop.secrets.profile import keyring_service
from atom_desktop.sync.connection_check import check_connection
from atom_desktop.sync.connection_settings import (
    SYNC_PASSWORD_ENTRY,
    split_password,
    with_password,
)
from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.server.connection import parse_address
from tests.support.agent_process import AgentProcess, agent_env, run_cli
from tests.support.ports import free_port
from tests.support.secret_service import SecretServiceSession
from tests.support.sync_server import DeviceFactory, SyncDatabase


@pytest.mark.parametrize(
    ("url", "bare", "password"),
    [
        (
            "postgresql://dev:s3cret@db.example:5432/atom",
            "postgresql://dev@db.example:5432/atom",
            "s3cret",
        ),
        (
            "postgresql://dev:p%40ss%3Aw@h/atom?sslmode=require",
            "postgresql://dev@h/atom?sslmode=require",
            "p@ss:w",
        ),
        (
            "postgresql://dev@h/atom?password=x%26y&sslmode=verify-full",
            "postgresql://dev@h/atom?sslmode=verify-full",
            "x&y",
        ),
        ("postgresql://dev:pw@h1:5432,h2:5433/atom", "postgresql://dev@h1:5432,h2:5433/atom", "pw"),
        ("postgresql://dev@h/atom", "postgresql://dev@h/atom", None),
        ("host=h user=dev password='a b' dbname=atom", "host=h user=dev dbname=atom", "a b"),
    ],
)
def test_split_password_keeps_everything_but_the_password(
    url: str, bare: str, password: str | None
) -> None:
    got_bare, got_password = split_password(url)
    assert got_password == password
    # A URL stays the same text; a key=value string may list its keys in another order.
    if "://" in url:
        assert got_bare == bare
    else:
        assert conninfo_to_dict(got_bare) == conninfo_to_dict(bare)
    assert parse_address(got_bare).password is None
    back = parse_address(with_password(got_bare, got_password))
    original = parse_address(url)
    assert (back.user, back.host, back.port, back.dbname, back.password) == (
        original.user,
        original.host,
        original.port,
        original.dbname,
        original.password,
    )


def test_split_password_refuses_what_libpq_cannot_read() -> None:
    with pytest.raises(SyncError) as caught:
        split_password("postgresql://dev@h/atom?nonsense=1")
    assert caught.value.problem is ServerProblem.INVALID


def _url(db: SyncDatabase, role: str, password: str | None = None, port: int | None = None) -> str:
    auth = f"{role}:{password}" if password else role
    return f"postgresql://{auth}@127.0.0.1:{port or db.server.port}/{db.name}"


def test_check_connection_says_who_and_where(
    synced: SyncDatabase, make_device: DeviceFactory
) -> None:
    device = make_device("laptop", "acme")
    report = check_connection(_url(synced, device.role, device.password))
    assert (report.role, report.tenant, report.schema_version) == (device.role, "acme", "0001")
    assert report.postgres_version.startswith("15")
    assert device.password not in report.describe()
    assert f"as {device.role}, tenant 'acme'" in report.describe()


def _problem(url: str) -> SyncError:
    with pytest.raises(SyncError) as caught:
        check_connection(url)
    return caught.value


def test_check_connection_names_each_failure(
    synced: SyncDatabase, database: SyncDatabase, make_device: DeviceFactory
) -> None:
    device = make_device("laptop", "acme")
    cases = {
        ServerProblem.AUTHENTICATION: _url(synced, device.role, "wrong-password"),
        ServerProblem.REFUSED: _url(synced, device.role, device.password, port=free_port()),
        ServerProblem.DNS: f"postgresql://{device.role}@no-such-host.invalid/{synced.name}",
        ServerProblem.TLS: _url(synced, device.role, device.password) + "?sslmode=require",
        ServerProblem.DATABASE: f"postgresql://{device.role}:{device.password}@127.0.0.1:"
        f"{synced.server.port}/no_such_db",
    }
    for problem, url in cases.items():
        error = _problem(url)
        assert error.problem is problem, (problem, error.message)
        assert device.password not in error.message + (error.hint or "")
        assert "wrong-password" not in error.message + (error.hint or "")


def test_check_connection_names_schema_problems(
    synced: SyncDatabase, make_device: DeviceFactory
) -> None:
    device = make_device("laptop", "acme")
    url = _url(synced, device.role, device.password)
    with synced.connect_admin(autocommit=True) as conn:
        conn.execute("UPDATE atom_sync.atom_sync_version SET version_num = '0002'")
    too_new = _problem(url)
    assert too_new.problem is ServerProblem.SCHEMA_TOO_NEW
    assert "newer" in too_new.message
    with synced.connect_admin(autocommit=True) as conn:
        conn.execute("UPDATE atom_sync.atom_sync_version SET version_num = '0001'")
        conn.execute(f"CREATE ROLE \"{synced.role('stranger')}\" LOGIN PASSWORD 'pw-stranger'")
    stranger = _problem(_url(synced, synced.role("stranger"), "pw-stranger"))
    assert stranger.problem is ServerProblem.PERMISSION
    assert "add-user" in (stranger.hint or "")


def test_check_connection_names_a_missing_schema(database: SyncDatabase) -> None:
    role = database.role("early")
    with database.connect_admin(autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'pw-early'")
    error = _problem(_url(database, role, "pw-early"))
    assert error.problem is ServerProblem.SCHEMA_MISSING
    assert "sync server init" in (error.hint or "")


# -- the commands, with a real keyring and a real agent ---------------------------------


@pytest.fixture
def profile(tmp_path: Path, secret_service: SecretServiceSession) -> dict[str, str]:
    del secret_service  # running: os.environ names its D-Bus session
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config")
    # Clients find a running agent's port in its lock file.
    del env["ATOM_PORT"]
    return env


def _stored_password(env: dict[str, str]) -> str | None:
    service = keyring_service(Path(env["ATOM_DATA_DIR"]).resolve())
    # The session's Secret Service itself, as the CLI used it: keyring's
    # process-wide default was chosen by whichever test of this worker used
    # it first, perhaps while no Secret Service was running.
    stored: str | None = SecretService.Keyring().get_password(service, SYNC_PASSWORD_ENTRY)
    return stored


def _config(env: dict[str, str]) -> dict[str, object]:
    path = Path(env["ATOM_CONFIG_DIR"]) / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_connect_keeps_the_password_in_the_keyring_only(
    synced: SyncDatabase, make_device: DeviceFactory, profile: dict[str, str]
) -> None:
    device = make_device("cli", "acme")
    bare = _url(synced, device.role)
    connect = run_cli(profile, "sync", "connect", bare, "--password-stdin", stdin=device.password)
    assert connect.returncode == 0, connect.stderr
    assert f"as {device.role}, tenant 'acme'" in connect.stdout
    assert "No agent is running" in connect.stdout
    assert _config(profile)["sync_url"] == bare
    assert _stored_password(profile) == device.password
    config_text = (Path(profile["ATOM_CONFIG_DIR"]) / "config.toml").read_text()
    assert device.password not in config_text + connect.stdout + connect.stderr

    test = run_cli(profile, "sync", "test")
    assert test.returncode == 0, test.stderr
    assert "Connected to" in test.stdout
    assert device.password not in test.stdout + test.stderr

    gone = run_cli(profile, "sync", "disconnect")
    assert gone.returncode == 0, gone.stderr
    assert "sync_url" not in _config(profile)
    assert _stored_password(profile) is None
    untested = run_cli(profile, "sync", "test")
    assert untested.returncode != 0
    assert "No sync server is configured" in untested.stderr


def test_connect_with_a_password_in_the_url_warns_and_stores_none(
    synced: SyncDatabase, make_device: DeviceFactory, profile: dict[str, str]
) -> None:
    device = make_device("url", "acme")
    connect = run_cli(profile, "sync", "connect", _url(synced, device.role, device.password))
    assert connect.returncode == 0, connect.stderr
    assert "process list" in connect.stderr
    assert _config(profile)["sync_url"] == _url(synced, device.role)
    assert _stored_password(profile) == device.password
    assert device.password not in connect.stdout + connect.stderr


def test_connect_saves_nothing_when_the_test_fails(
    synced: SyncDatabase, make_device: DeviceFactory, profile: dict[str, str]
) -> None:
    device = make_device("bad", "acme")
    bare = _url(synced, device.role)
    failed = run_cli(profile, "sync", "connect", bare, "--password-stdin", stdin="not-it")
    assert failed.returncode != 0
    assert "authentication failed" in failed.stderr
    assert "Nothing was saved" in failed.stderr
    assert "--no-check" in failed.stderr
    assert "not-it" not in failed.stderr + failed.stdout
    assert _config(profile) == {}
    assert _stored_password(profile) is None


@pytest.fixture
def serve(profile: dict[str, str]) -> Iterator[AgentProcess]:
    """A headless agent of ``profile``, sync off, running; stopped after the test."""
    agent = AgentProcess(["serve"], {**profile, "ATOM_PORT": "0"})
    try:
        agent.wait_for("agent running")
        yield agent
        assert agent.stop() == 0, agent.output
    finally:
        agent.kill()


def _status(env: dict[str, str]) -> dict[str, object]:
    done = run_cli(env, "sync", "status", "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _wait_for_state(env: dict[str, str], *states: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        status = _status(env)
        if status["state"] in states or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_a_running_agent_follows_connect_and_disconnect(
    synced: SyncDatabase,
    make_device: DeviceFactory,
    profile: dict[str, str],
    serve: AgentProcess,
) -> None:
    device = make_device("live", "acme")
    assert _status(profile)["state"] == "off"
    task = run_cli(profile, "tasks", "add", "made before sync was on")
    assert task.returncode == 0, task.stderr

    connect = run_cli(
        profile,
        "sync",
        "connect",
        _url(synced, device.role),
        "--password-stdin",
        stdin=device.password,
    )
    assert connect.returncode == 0, connect.stderr
    assert "The running agent now syncs with" in connect.stdout
    now = run_cli(profile, "sync", "now", "--wait", "--json")
    assert now.returncode == 0, now.stderr
    assert json.loads(now.stdout)["pending"] == 0
    with synced.connect_admin() as conn:
        rows = conn.execute("SELECT data->>'title' FROM atom_sync.tasks").fetchall()
    titles = [row[0] for row in rows]
    assert titles == ["made before sync was on"]

    # The password is in no process's command line or environment, and no file of the profile.
    agent = psutil.Process(serve.proc.pid)
    assert device.password not in " ".join(agent.cmdline())
    assert all(device.password not in value for value in agent.environ().values())
    for root in (profile["ATOM_DATA_DIR"], profile["ATOM_CONFIG_DIR"]):
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.name.startswith("atom.db"):
                assert device.password.encode() not in path.read_bytes(), path

    gone = run_cli(profile, "sync", "disconnect")
    assert gone.returncode == 0, gone.stderr
    assert "The running agent has stopped syncing" in gone.stdout
    assert _wait_for_state(profile, "off")["state"] == "off"


def test_without_a_keyring_connect_refuses_to_keep_a_password_and_pgpass_works(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    device = make_device("headless", "acme")
    home = tmp_path / "home"
    home.mkdir()
    env = agent_env(
        {
            **os.environ,
            "HOME": str(home),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        tmp_path / "data",
        tmp_path / "config",
    )
    del env["ATOM_PORT"]
    bare = _url(synced, device.role)
    refused = run_cli(env, "sync", "connect", bare, "--password-stdin", stdin=device.password)
    assert refused.returncode != 0
    assert "cannot be kept: there is no usable OS keyring" in refused.stderr
    assert "~/.pgpass" in refused.stderr
    assert device.password not in refused.stdout + refused.stderr
    assert _config(env) == {}

    # The way it says: no password in the command, libpq reads ~/.pgpass.
    pgpass = home / ".pgpass"
    pgpass.write_text(
        f"127.0.0.1:{synced.server.port}:{synced.name}:{device.role}:{device.password}\n"
    )
    pgpass.chmod(0o600)
    saved = run_cli(env, "sync", "connect", bare)  # stdin is no terminal: no prompt
    assert saved.returncode == 0, saved.stderr
    assert f"as {device.role}, tenant 'acme'" in saved.stdout
    assert _config(env)["sync_url"] == bare
    assert run_cli(env, "sync", "test").returncode == 0
    gone = run_cli(env, "sync", "disconnect")
    assert gone.returncode == 0, gone.stderr
    assert _config(env) == {}
