"""The error hierarchy every package builds on.

An :class:`AtomError` means "the environment or the input is at fault" (a bad
setting, a locked keyring, a wrong key): it carries a message for a person
that says what happened and what to do. Anything else escaping a service is a
bug and is reported with its traceback.
"""

from __future__ import annotations


class AtomError(Exception):
    """A failure a user can act on; ``str(error)`` is the full message."""

    #: Process exit code used when this error ends a command.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n{hint}")


class ConfigError(AtomError):
    """A setting, a config file or a command-line option is invalid."""

    exit_code = 2
