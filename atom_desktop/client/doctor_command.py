"""``atom-desktop doctor``: every check of client/doctor_machine.py and
client/doctor_profile.py, in the order a person reads them."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from atom_desktop.client import doctor_machine as machine
from atom_desktop.client import doctor_profile as profile
from atom_desktop.client.doctor import exit_code, print_findings, run_checks
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor


def this_program() -> list[str]:
    """How to start this program again: the build's executable, or this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "atom_desktop"]


def doctor(
    settings: Settings,
    paths: AppPaths,
    redactor: Redactor,
    *,
    as_json: bool,
    out: TextIO,
    program: Sequence[str] | None = None,
) -> int:
    """Run the checks, print them, return the exit code (1 when any found a problem)."""
    command = list(program or this_program())
    env = dict(os.environ)
    vault = profile.vault_of(paths)
    agent = profile.find_agent(paths)
    with contextlib.ExitStack() as stack:
        client = profile.agent_client(settings, paths, redactor, agent)
        if client is not None:
            stack.enter_context(client)
        findings = run_checks(
            [
                ("python", machine.check_python),
                (
                    "qt",
                    lambda: machine.check_qt_and_display([*command, "doctor", "--probe-qt"], env),
                ),
                ("keyring", lambda: profile.check_keyring(vault)),
                ("database", lambda: profile.check_database(settings, paths, vault, redactor)),
                ("data-dir", lambda: machine.check_data_dir(paths)),
                ("api-port", lambda: machine.check_port(settings, agent.port if agent else None)),
                ("agent", lambda: profile.check_agent(agent, client)),
                ("autostart", lambda: machine.check_autostart(command)),
                ("sync", lambda: profile.check_sync(settings, paths, client)),
                ("integrations", lambda: profile.check_integrations(client)),
            ],
            redactor,
        )
    print_findings(findings, out, as_json=as_json)
    return exit_code(findings)
