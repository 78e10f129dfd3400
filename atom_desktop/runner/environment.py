"""The environment a child process gets: the user's, minus every agent secret."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

# Variables that configure the agent or carry its secrets; never inherited.
_AGENT_PREFIX = "ATOM_"


def child_environment(
    base: Mapping[str, str], overrides: Mapping[str, str], secrets: Iterable[str]
) -> dict[str, str]:
    """``base`` without ATOM_* or any value holding a secret, plus ``overrides``."""
    secret_values = {s for s in secrets if s}
    env = {
        name: value
        for name, value in base.items()
        if not name.upper().startswith(_AGENT_PREFIX)
        and not any(secret in value for secret in secret_values)
    }
    env.update(overrides)
    return env


def user_shell() -> str:
    """The user's login shell for shell lines (``$SHELL``, else /bin/sh)."""
    shell = os.environ.get("SHELL", "")
    return shell if shell and Path(shell).is_absolute() and os.access(shell, os.X_OK) else "/bin/sh"
