"""A throwaway PostgreSQL server for the sync tests: initdb + pg_ctl in a temp dir.

The server listens on a free loopback port and on a Unix socket in its own
directory. Over TCP every role logs in with a password (SCRAM), as a device
would against a real server; over the socket the ``postgres`` superuser is
trusted, which is how the tests reach it as an administrator without a
password anywhere. Every statement is logged (``log_statement = all``) to
``log``, so a test can prove that a secret never reached the server's log.

initdb refuses to run as root: as root the server runs as the ``postgres``
system user (``runuser``), otherwise as the current user.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.ports import free_port

#: The superuser initdb makes; trusted on the Unix socket only.
SUPERUSER = "postgres"
_PREFERRED_MAJOR = "15"
_START_TIMEOUT_S = 30


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries were found on this machine."""


@dataclass(frozen=True)
class PostgresServer:
    """A running test server: where it listens, its files, how to reach it."""

    port: int
    socket_dir: Path
    data_dir: Path
    log: Path
    bin_dir: Path
    host: str = "127.0.0.1"

    def admin_url(self, dbname: str = "postgres") -> str:
        """The superuser over the Unix socket (trusted: no password)."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, user: str, dbname: str = "postgres") -> str:
        """A role over TCP on loopback; its password goes separately (PGPASSWORD or kwargs)."""
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def postmaster_pid(self) -> int | None:
        """The server's main process, from ``postmaster.pid`` (None once it has stopped)."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None


def find_bin_dir() -> Path:
    """The directory of initdb and pg_ctl: PostgreSQL 15's if there, else the newest."""
    root = Path("/usr/lib/postgresql")
    majors = sorted(
        (p for p in root.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: (p.parent.name != _PREFERRED_MAJOR, -_major(p.parent.name)),
    )
    if majors:
        return majors[0]
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailableError(
        "PostgreSQL's initdb was not found (looked in /usr/lib/postgresql/*/bin and PATH). "
        "Install it: apt-get install postgresql (./scripts/test does)."
    )


def _major(name: str) -> int:
    return int(name) if name.isdigit() else 0


def _as_server_user(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` system user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(
        _as_server_user(argv), capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh server, yield it, stop it; fail if any of its processes outlive it.

    The directory is made with :func:`tempfile.mkdtemp` (under /tmp, not
    pytest's tmp dirs, whose 0700 parents the ``postgres`` user cannot enter).
    """
    bin_dir = find_bin_dir()
    base = Path(tempfile.mkdtemp(prefix="atom-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    server = PostgresServer(
        port=free_port(),
        socket_dir=base,
        data_dir=base / "data",
        log=base / "server.log",
        bin_dir=bin_dir,
    )
    started = False
    try:
        _init(server)
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {server.port}",
                f"-k {server.socket_dir}",
                # A throwaway cluster: durability costs time and buys nothing here.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c log_statement=all",
            ]
        )
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(server.log),
             "-w", "-t", str(_START_TIMEOUT_S), "-o", options, "start"],
            "pg_ctl start",
        )  # fmt: skip
        started = True
        yield server
    finally:
        try:
            if started:
                _stop(server)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _init(server: PostgresServer) -> None:
    _run(
        [str(server.bin_dir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER,
         "-E", "UTF8", "--locale=C", "--no-sync",
         # The superuser has no password: it is reached over the socket only.
         "--auth-local=trust", "--auth-host=scram-sha-256"],
        "initdb",
    )  # fmt: skip


def _stop(server: PostgresServer) -> None:
    """Stop the server and make sure that every one of its processes is gone."""
    pid = server.postmaster_pid()
    members = _processes(pid)
    _run(
        [str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast", "-w", "stop"],
        "pg_ctl stop",
    )
    deadline = time.monotonic() + 10
    alive = members
    while alive and time.monotonic() < deadline:
        _reap(alive)
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.02)
    if alive:
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        _reap(alive)
        raise AssertionError(f"PostgreSQL left processes behind after pg_ctl stop: {alive}")


def _processes(pid: int | None) -> list[psutil.Process]:
    """The postmaster and its children (checkpointer, walwriter, backends ...)."""
    if pid is None:
        return []
    try:
        main = psutil.Process(pid)
        return [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _reap(procs: list[psutil.Process]) -> None:
    """Collect exit statuses of any that became our children (a subreaper adopts orphans)."""
    for proc in procs:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(proc.pid, os.WNOHANG)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def stopped_postgres(server: PostgresServer) -> Iterator[None]:
    """Stop ``server`` for the body, then start it again: a restart the test sees halfway.

    It comes back on the same port with the same settings (those it was
    started with, from ``postmaster.opts``, as ``pg_ctl restart`` reads them)
    and its data, so a session-wide server stays usable after it.
    """
    recorded = shlex.split((server.data_dir / "postmaster.opts").read_text())
    _stop(server)
    try:
        yield
    finally:
        _run(
            [str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(server.log),
             "-w", "-t", str(_START_TIMEOUT_S), "-o", shlex.join(recorded[1:]), "start"],
            "pg_ctl start",
        )  # fmt: skip
