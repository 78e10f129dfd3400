"""Which commands may run when no person typed them.

Runs from API tokens, automations and the AI are checked before anything is
spawned: the deny list always applies (built-in rules plus any from the
settings) and, when an allow list is set, the command must match it. The
check reads the shell line, or the argv list joined as a shell would show it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from atom_desktop.runner.errors import RunnerError
from atom_desktop.runner.request import RunRequest


@dataclass(frozen=True, slots=True)
class Rule:
    """A named pattern and what it protects against."""

    name: str
    pattern: re.Pattern[str]
    why: str


def _rule(name: str, pattern: str, why: str) -> Rule:
    return Rule(name, re.compile(pattern), why)


BUILT_IN_DENY = (
    _rule(
        "rm-root",
        r"\brm\s+(?:-{1,2}[\w-]+\s+)*(?:/|/\*|~/?|\$HOME/?|\$\{HOME\}/?)(?:\s|;|&|\||$)",
        "deletes the root or home directory",
    ),
    _rule("mkfs", r"(?:^|[\s;&|/])mkfs(?:\.\w+)?\b", "formats a file system"),
    _rule(
        "fork-bomb",
        r"(\w+|:)\s*\(\)\s*\{\s*\1\s*\|\s*\1\s*&\s*\}\s*;\s*\1",
        "starts processes until the machine stops",
    ),
    _rule(
        "raw-disk-write",
        r"(?:\bof=|>\s*)/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|disk\d)",
        "overwrites a disk device",
    ),
    _rule(
        "chmod-root",
        r"\bchmod\s+(?:-\w+\s+)*[0-7]{3,4}\s+/(?:\s|$)",
        "changes the permissions of the whole file system",
    ),
)


class CommandDeniedError(RunnerError):
    """The command matches a deny rule, or no allow rule."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def command_text(request: RunRequest) -> str:
    """The command as one line, as the rules read it."""
    return request.shell if request.shell is not None else shlex.join(request.argv or [])


class CommandPolicy:
    """The deny list (always) and the optional allow list."""

    def __init__(self, extra_deny: Iterable[str] = (), allow: Iterable[str] | None = None) -> None:
        self._deny = (
            *BUILT_IN_DENY,
            *(_rule(f"settings:{p}", p, "denied in the settings") for p in extra_deny),
        )
        self._allow = None if allow is None else tuple(re.compile(p) for p in allow)

    def check(self, request: RunRequest) -> None:
        """Raise CommandDeniedError naming the rule if the command may not run."""
        text = command_text(request)
        for rule in self._deny:
            if rule.pattern.search(text):
                raise CommandDeniedError(
                    f"The command is refused by the rule '{rule.name}': it {rule.why}.", rule.name
                )
        if self._allow is not None and not any(p.search(text) for p in self._allow):
            raise CommandDeniedError(
                "The command matches no entry of the allow list (allow_commands in the settings).",
                "allow-list",
            )
