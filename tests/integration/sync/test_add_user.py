"""``sync server add-user``: a login role in a tenant; its password shown once, and only there."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import psycopg
import pytest

from atom_desktop.sync.errors import SyncError
from atom_desktop.sync.server.users import add_user
from tests.support.sync_server import DeviceFactory, SyncDatabase


def _add_user_argv(db: SyncDatabase, role: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "atom_desktop", "sync", "server", "add-user",
        "--url", db.admin_url, "--tenant", "acme", "--user", role, *extra,
    ]  # fmt: skip


def _current_user(db: SyncDatabase, role: str, password: str) -> str:
    with db.connect_as(role, password) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


def test_a_generated_password_is_printed_once_and_logs_in(synced: SyncDatabase) -> None:
    role = synced.role("laptop")
    result = subprocess.run(
        _add_user_argv(synced, role), capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("tenant 'acme': created (id ")
    assert f"role '{role}': created, can log in" in lines
    password = lines[-1]
    assert len(password) >= 32
    assert result.stdout.count(password) == 1
    assert _current_user(synced, role, password) == role
    # The server got a SCRAM verifier, never the password itself.
    log = synced.server.log.read_text(errors="replace")
    assert f'CREATE ROLE "{role}"' in log
    assert password not in log


def test_password_stdin_is_in_no_process_list_output_or_log(synced: SyncDatabase) -> None:
    role = synced.role("desk")
    password = "stdin-secret-4f0c2a9e-only-here"
    seen: list[str] = []
    with subprocess.Popen(
        [*_add_user_argv(synced, role), "--password-stdin"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        view = psutil.Process(proc.pid)

        def look() -> None:
            try:
                seen.append(" ".join(view.cmdline()))
                seen.append(" ".join(f"{k}={v}" for k, v in view.environ().items()))
            except psutil.Error:
                pass  # it has ended

        look()
        proc.stdin.write(password + "\n")
        proc.stdin.close()
        # Watch it work (connect, hash, create) until it ends; its output is a few lines.
        while proc.poll() is None:
            look()
            time.sleep(0.005)
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, stderr
    # Seen at work (its command line is empty for a moment while it starts).
    assert any(role in entry for entry in seen)
    assert not [entry for entry in seen if password in entry]
    assert password not in stdout + stderr
    assert f"password of '{role}': set from stdin" in stdout
    assert password not in synced.server.log.read_text(errors="replace")
    assert _current_user(synced, role, password) == role


def test_an_existing_role_is_reused_and_keeps_its_password(
    synced: SyncDatabase, make_device: DeviceFactory
) -> None:
    device = make_device("laptop", "acme")
    again = add_user(synced.admin, tenant="acme", role=device.role)
    assert not again.role_created
    assert not again.member_added
    assert not again.tenant_created
    assert again.generated_password is None
    assert _current_user(synced, device.role, device.password) == device.role
    reset = add_user(synced.admin, tenant="acme", role=device.role, reset_password=True)
    assert reset.generated_password is not None
    assert _current_user(synced, device.role, reset.generated_password) == device.role
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _current_user(synced, device.role, device.password)


def test_a_role_belongs_to_one_tenant(synced: SyncDatabase, make_device: DeviceFactory) -> None:
    device = make_device("laptop", "acme")
    with pytest.raises(SyncError, match="already belongs to the tenant 'acme'"):
        add_user(synced.admin, tenant="globex", role=device.role)
    with synced.connect_admin() as conn:
        # Refused whole: not even the new tenant was left behind.
        names = conn.execute("SELECT name FROM atom_sync.tenants").fetchall()
    assert names == [("acme",)]


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [("SUPERUSER", "superuser"), ("BYPASSRLS", "BYPASSRLS"), ("NOINHERIT", "NOINHERIT")],
)
def test_roles_that_rls_would_not_hold_are_refused(
    synced: SyncDatabase, attributes: str, reason: str
) -> None:
    role = synced.role("strong")
    with synced.connect_admin(autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN {attributes}")
    with pytest.raises(SyncError, match=reason):
        add_user(synced.admin, tenant="acme", role=role, password="whatever-password")


@pytest.mark.parametrize("role", ["pg_laptop", "atom_sync_device", "1abc", "a b", "x" * 64, ""])
def test_unusable_role_names_are_refused_before_connecting(role: str) -> None:
    from atom_desktop.sync.server.connection import parse_address  # noqa: PLC0415

    nowhere = parse_address("postgresql://admin@127.0.0.1:1/db")
    with pytest.raises(SyncError, match=r"role name|reserved"):
        add_user(nowhere, tenant="acme", role=role)
