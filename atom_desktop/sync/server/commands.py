"""What ``atom-desktop sync server init`` and ``add-user`` do and print.

These administer the shared server; they need no local profile and no
running agent. Addresses are printed without their passwords, and the
password of a new role is printed once, on stdout, and nowhere else.
"""

from __future__ import annotations

import sys
from typing import TextIO

from atom_desktop.core.redaction import Redactor
from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.server.connection import parse_address


def init(url: str, *, redactor: Redactor, out: TextIO = sys.stdout) -> int:
    """``sync server init --url ADMIN_URL``: apply the server migrations; the exit code."""
    from atom_desktop.sync.server.migrator import init_server  # noqa: PLC0415 - loads alembic

    address = parse_address(url)
    if address.password:
        redactor.add(address.password)
    outcome = init_server(address, redactor)
    if outcome.before is None:
        out.write(f"created schema version {outcome.after} on {address.display}\n")
    elif outcome.changed:
        out.write(
            f"upgraded schema from version {outcome.before} to {outcome.after} "
            f"on {address.display}\n"
        )
    else:
        out.write(f"already at version {outcome.after} on {address.display}\n")
    return 0


def add_user(
    url: str,
    *,
    tenant: str,
    role: str,
    password_stdin: bool,
    reset_password: bool,
    redactor: Redactor,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    """``sync server add-user``: a device role in a tenant; the exit code."""
    from atom_desktop.sync.server.users import add_user as add  # noqa: PLC0415

    address = parse_address(url)
    if address.password:
        redactor.add(address.password)
    password = read_password(stdin) if password_stdin else None
    if password is not None:
        redactor.add(password)
    outcome = add(
        address,
        tenant=tenant,
        role=role,
        password=password,
        reset_password=reset_password,
        redactor=redactor,
    )
    if outcome.tenant_created:
        out.write(f"tenant {tenant!r}: created (id {outcome.tenant_id})\n")
    else:
        out.write(f"tenant {tenant!r}: exists (id {outcome.tenant_id})\n")
    if outcome.role_created:
        out.write(f"role {role!r}: created, can log in\n")
    elif outcome.login_granted:
        out.write(f"role {role!r}: exists; it may now log in\n")
    else:
        out.write(f"role {role!r}: exists\n")
    member = "made a member" if outcome.member_added else "already a member"
    out.write(f"role {role!r}: {member} of tenant {tenant!r}, with the rights sync needs\n")
    if outcome.generated_password is not None:
        redactor.add(outcome.generated_password)
        out.write(
            f"password of {role!r} (shown only now; keep it for the device's sync settings):\n"
            f"{outcome.generated_password}\n"
        )
    elif outcome.password_set:
        out.write(f"password of {role!r}: set from stdin\n")
    else:
        out.write(
            f"password of {role!r}: unchanged (--reset-password makes a new one, "
            "--password-stdin sets one)\n"
        )
    return 0


def read_password(stdin: TextIO) -> str:
    """One line from stdin, without its line ending; SyncError if there is none."""
    line = stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise SyncError(
            "--password-stdin read no password: stdin was empty.",
            problem=ServerProblem.INVALID,
            hint="Pipe the password in, e.g. from a password manager: ... | atom-desktop sync "
            "server add-user ... --password-stdin",
        )
    return password
