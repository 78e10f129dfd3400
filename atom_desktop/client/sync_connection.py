"""``atom-desktop sync connect``, ``sync test`` and ``sync disconnect``.

They work on the profile itself (its config file and keyring), so they work
whether an agent runs or not; a running agent is then told to use what was
saved. A password is typed at a prompt or read from stdin: on the command
line, every user of the computer could read it in the process list.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from atom_desktop.client.agent_client import NoAgentError
from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.connection_check import check_connection
from atom_desktop.sync.connection_settings import (
    ENV_NAME,
    SyncConnectionStore,
    split_password,
    with_password,
)
from atom_desktop.sync.errors import SyncError
from atom_desktop.sync.server.commands import read_password
from atom_desktop.sync.server.connection import parse_address

#: Tells a running agent to read the settings again; returns the server it uses, or None.
Reconnect = Callable[[], str | None]


def _password(
    url: str,
    *,
    password_stdin: bool,
    stdin: TextIO,
    err: TextIO,
    redactor: Redactor,
) -> tuple[str, str | None]:
    """The address without a password, and the password: from the URL, stdin or a prompt."""
    bare, in_url = split_password(url)
    if in_url:
        redactor.add(in_url)
        if password_stdin:
            raise SyncError(
                "The address has a password and --password-stdin was given: give it once.",
                hint="Leave the password out of the address.",
            )
        err.write(
            "Note: the password was on the command line, where other users of this computer "
            "can read it in the process list. Next time leave it out of the address: the "
            "command asks for it (or reads it with --password-stdin).\n"
        )
        return bare, in_url
    if password_stdin:
        password = read_password(stdin)
    elif stdin.isatty():
        role = parse_address(bare).user or getpass.getuser()
        password = getpass.getpass(
            f"Password for {role} (Enter for none: PGPASSWORD or ~/.pgpass give it): "
        )
    else:
        password = ""
    if password:
        redactor.add(password)
    return bare, password or None


def sync_connect(
    url: str,
    *,
    store: SyncConnectionStore,
    reconnect: Reconnect,
    check: bool,
    password_stdin: bool,
    redactor: Redactor,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Test the server, then keep its address (config file) and password (keyring)."""
    bare, password = _password(
        url, password_stdin=password_stdin, stdin=stdin, err=err, redactor=redactor
    )
    if check:
        try:
            report = check_connection(with_password(bare, password), redactor)
        except SyncError as exc:
            raise SyncError(
                f"{exc.message} Nothing was saved.",
                problem=exc.problem,
                hint=f"{exc.hint or 'Check the address.'} To save it anyway: add --no-check.",
            ) from None
        out.write(report.describe() + "\n")
    stored = store.save(bare, password)
    where = " and its password in the OS keyring" if password else ""
    out.write(f"Saved the sync server {parse_address(stored).display}{where}.\n")
    configured = store.configured()
    if configured is not None and configured.source == "environment":
        err.write(
            f"Note: {ENV_NAME} is set in this environment and wins over the config file; "
            "unset it to use the server saved now.\n"
        )
    _tell_agent(reconnect, out)
    return 0


def sync_test(
    url: str | None,
    *,
    store: SyncConnectionStore,
    password_stdin: bool,
    redactor: Redactor,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Connect as sync would (to ``url``, or to the configured server) and say what failed."""
    if url is None:
        configured = store.configured()
        if configured is None:
            raise SyncError(
                "No sync server is configured.",
                hint="Give one: atom-desktop sync test URL, or save it with: "
                "atom-desktop sync connect URL",
            )
        target = store.connection_url(configured.url)
        address = parse_address(target)
        if address.password:
            redactor.add(address.password)
    else:
        bare, password = _password(
            url, password_stdin=password_stdin, stdin=stdin, err=err, redactor=redactor
        )
        target = with_password(bare, password)
    report = check_connection(target, redactor)
    out.write(report.describe() + "\n")
    return 0


def sync_disconnect(
    *, store: SyncConnectionStore, reconnect: Reconnect, out: TextIO = sys.stdout
) -> int:
    """Forget the saved server and its password; a running agent stops syncing."""
    store.forget()
    out.write("Sync is off: the server and its password are no longer kept.\n")
    configured = store.configured()
    if configured is not None:
        out.write(
            f"Note: {ENV_NAME} is set in this environment; agents started with it still sync.\n"
        )
    _tell_agent(reconnect, out)
    return 0


def _tell_agent(reconnect: Reconnect, out: TextIO) -> None:
    try:
        server = reconnect()
    except NoAgentError:
        out.write("No agent is running; it uses this when it starts.\n")
        return
    if server is None:
        out.write("The running agent has stopped syncing.\n")
    else:
        out.write(f"The running agent now syncs with {server}.\n")


__all__ = ["sync_connect", "sync_disconnect", "sync_test"]
