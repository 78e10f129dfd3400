"""Which commands may run when no person typed them.

Runs from API tokens, automations and the AI are checked before anything is
spawned: the deny list always applies (built-in rules plus any from the
settings) and, when an allow list is set, every command must match it.

The rules read the commands a request will actually run
(:mod:`atom_desktop.runner.invocations`): an argv list's program and its
arguments, or each simple command of a shell line, with wrappers (``sudo``,
``env``, ``xargs``...) and nested shells (``sh -c``, ``$(...)``, ``eval``)
opened. ``echo rm -rf /`` prints text and passes; ``true && sudo rm -fr /``
is refused. Text the parser cannot read (a quote left open) is read the
conservative way: the built-in rules' patterns search all of it, and the
refusal says so. A fork bomb is a shape of text, so that rule always reads
the text of every line.

Rules from the settings are regular expressions searched in each command's
text (its words joined by spaces, quoted where a shell would need it): a
deny rule in each command as written and as each wrapper runs it (so
``^shutdown`` refuses ``sudo shutdown now``), an allow rule in each command
as written, and every command of a line must match an allow rule.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from atom_desktop.runner.errors import RunnerError
from atom_desktop.runner.invocations import Invocation, Reading, read_argv, read_shell
from atom_desktop.runner.request import RunRequest
from atom_desktop.runner.shell_words import HERE_DOCUMENTS

# Redirections that write to their target (">&" too when it names a file).
_WRITES = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&"})
_DISK = re.compile(r"/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|r?disk\d)")
_MKFS = re.compile(r"mkfs(?:\..+)?|mke2fs|newfs(?:_\w+)?")
_BARE = re.compile(r"[\w@%+=:,./~$*{}-]+")
_SHOWN_MAX = 200


@dataclass(frozen=True, slots=True)
class Rule:
    """A built-in deny rule: what it finds in a command, and what in text it cannot read."""

    name: str
    check: Callable[[Invocation], str | None] | None  # why a command matches, or None
    pattern: re.Pattern[str]  # the conservative reading, for text the parser cannot read
    why: str  # what text that matches ``pattern`` would do


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which rule refused a request, and a message that says why."""

    rule: str
    message: str


class CommandDeniedError(RunnerError):
    """The command matches a deny rule, or no allow rule."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def command_line(words: Sequence[str]) -> str:
    """``words`` as one line: quoted where a shell would need it, ``~``, ``$HOME``, ``*`` bare."""
    return " ".join(w if _BARE.fullmatch(w) else shlex.quote(w) for w in words)


def read_request(request: RunRequest) -> Reading:
    """Every command ``request`` will run, as far as its text tells."""
    if request.shell is not None:
        return read_shell(request.shell)
    return read_argv(request.argv or [])


class CommandPolicy:
    """The deny list (always) and the optional allow list."""

    def __init__(self, extra_deny: Iterable[str] = (), allow: Iterable[str] | None = None) -> None:
        self._deny = tuple((p, re.compile(p)) for p in extra_deny)
        self._allow = None if allow is None else tuple(re.compile(p) for p in allow)

    def check(self, request: RunRequest) -> None:
        """Raise CommandDeniedError naming the rule and why, if the command may not run."""
        refusal = self.refusal(read_request(request))
        if refusal is not None:
            raise CommandDeniedError(refusal.message, refusal.rule)

    def refusal(self, reading: Reading) -> Refusal | None:
        """The first rule that refuses what ``reading`` runs, or None when it may run."""
        for rule in BUILT_IN_DENY:
            refusal = _built_in(rule, reading)
            if refusal is not None:
                return refusal
        for source, pattern in self._deny:
            refusal = self._denied(f"settings:{source}", pattern, reading)
            if refusal is not None:
                return refusal
        if self._allow is not None:
            return self._not_allowed(self._allow, reading)
        return None

    @staticmethod
    def _denied(name: str, pattern: re.Pattern[str], reading: Reading) -> Refusal | None:
        for invocation in reading.invocations:
            text = command_line(invocation.argv)
            if invocation.argv and pattern.search(text):
                return Refusal(
                    name,
                    f"Refused by rule {name}: the command `{_shown(text)}` matches "
                    f"{pattern.pattern!r} from deny_commands in the settings.",
                )
        for unread in reading.unreadable:
            if pattern.search(unread.text):
                return Refusal(
                    name,
                    f"Refused by rule {name}: the text `{_shown(unread.text)}` matches "
                    f"{pattern.pattern!r} from deny_commands in the settings "
                    f"({_unread_note(unread.reason)}).",
                )
        return None

    @staticmethod
    def _not_allowed(allow: tuple[re.Pattern[str], ...], reading: Reading) -> Refusal | None:
        texts: list[tuple[str, str | None]] = [(command_line(c), None) for c in reading.commands]
        texts += [(u.text, u.reason) for u in reading.unreadable]
        for text, reason in texts:
            if not any(p.search(text) for p in allow):
                note = "" if reason is None else f" ({_unread_note(reason)})"
                return Refusal(
                    "allow-list",
                    f"Refused by rule allow-list: the command `{_shown(text)}` matches no entry "
                    "of the allow list "
                    f"(allow_commands in the settings){note}.",
                )
        return None


def _built_in(rule: Rule, reading: Reading) -> Refusal | None:
    if rule.check is None:
        # A rule about the shape of text reads every shell text, parsed or not.
        for text in reading.shell_texts:
            if found := rule.pattern.search(text):
                return Refusal(
                    rule.name,
                    f"Refused by rule {rule.name}: `{_shown(found.group())}` {rule.why} "
                    f"(in the line `{_shown(text)}`).",
                )
        return None
    for invocation in reading.invocations:
        if why := rule.check(invocation):
            return Refusal(
                rule.name,
                f"Refused by rule {rule.name}: {why} "
                f"(in the command `{_shown(_as_written(invocation))}`).",
            )
    for unread in reading.unreadable:
        if rule.pattern.search(unread.text):
            return Refusal(
                rule.name,
                f"Refused by rule {rule.name}: the text `{_shown(unread.text)}` looks like it "
                f"{rule.why} ({_unread_note(unread.reason)}).",
            )
    return None


def _as_written(invocation: Invocation) -> str:
    """The simple command as written, with its redirections (a here-document's text left out)."""
    parts = [command_line(invocation.written)] if invocation.written else []
    for redirect in invocation.redirects:
        target = "..." if redirect.op in HERE_DOCUMENTS else command_line([redirect.target])
        parts.append(f"{redirect.op} {target}")
    return " ".join(parts)


def _unread_note(reason: str) -> str:
    return f"it could not be read as shell commands: {reason}; so all of its text was searched"


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "\u2026"


def _options_and_operands(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Options (anywhere before ``--``, as GNU tools take them) and operands."""
    options: list[str] = []
    operands: list[str] = []
    for index, word in enumerate(args):
        if word == "--":
            operands.extend(args[index + 1 :])
            break
        (options if word.startswith("-") and len(word) > 1 else operands).append(word)
    return options, operands


def _everything(path: str) -> str | None:
    """What deleting ``path`` deletes when that is everything: the machine's or the home's files."""
    path = re.sub(r"/{2,}", "/", path)
    while path != "/" and path.endswith(("/*", "/.", "/")):
        path = path[: -2 if path.endswith(("/*", "/.")) else -1] or "/"
    if path == "/":
        return "every file on the machine"
    if path in ("~", "$HOME", "${HOME}"):
        return "every file in your home folder"
    return None


def _rm_root(command: Invocation) -> str | None:
    if command.program != "rm":
        return None
    options, operands = _options_and_operands(command.args)
    recursive = any(
        o == "--recursive" or (not o.startswith("--") and ("r" in o or "R" in o)) for o in options
    )
    if not recursive:
        return None  # without -r, rm deletes no folder
    for target in operands:
        if what := _everything(target):
            return f"`{_shown(command_line(command.argv))}` would delete {what}"
    return None


def _mkfs(command: Invocation) -> str | None:
    if not _MKFS.fullmatch(command.program):
        return None
    return (
        f"`{_shown(command_line(command.argv))}` would format a file system, erasing what is on it"
    )


def _raw_disk_write(command: Invocation) -> str | None:
    for redirect in command.redirects:
        if redirect.op in _WRITES and _DISK.match(redirect.target):
            return (
                f"`{redirect.op} {redirect.target}` would overwrite the disk device "
                f"{redirect.target}"
            )
    _options, operands = _options_and_operands(command.args)
    if command.program == "dd":
        targets = [a[3:] for a in command.args if a.startswith("of=")]
    elif command.program == "tee":
        targets = operands
    elif command.program == "cp" and len(operands) >= 2:
        targets = operands[-1:]
    else:
        return None
    for target in targets:
        if _DISK.match(target):
            return (
                f"`{_shown(command_line(command.argv))}` would overwrite the disk device {target}"
            )
    return None


def _chmod_root(command: Invocation) -> str | None:
    if command.program != "chmod":
        return None
    options, operands = _options_and_operands(command.args)
    if not any(_everything(target) == "every file on the machine" for target in operands):
        return None
    recursive = any(o in ("-R", "--recursive") for o in options)
    what = "every file on the machine" if recursive else "the root folder"
    return f"`{_shown(command_line(command.argv))}` would change the permissions of {what}"


BUILT_IN_DENY = (
    Rule(
        "rm-root",
        _rm_root,
        re.compile(
            r"\brm\s++(?:-{1,2}[\w-]++\s++)*+(?:/|/\*|~/?|\$HOME/?|\$\{HOME\}/?)(?:[\s;&|)'\"`]|$)"
        ),
        "deletes the root or home folder",
    ),
    Rule("mkfs", _mkfs, re.compile(r"(?:^|[\s;&|/])mkfs(?:\.\w+)?\b"), "formats a file system"),
    Rule(
        "fork-bomb",
        None,
        # A name starts only where a word does, and is never given back: a long
        # word costs one look, not one per length (no backtracking).
        re.compile(r"(?<!\w)(\w++|:)\s*+\(\)\s*+\{\s*+\1\s*+\|\s*+\1\s*+&\s*+\}\s*+;\s*+\1"),
        "starts processes until the machine stops",
    ),
    Rule(
        "raw-disk-write",
        _raw_disk_write,
        re.compile(
            r"(?:\bof=|>\s*)/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|disk\d)"
        ),
        "overwrites a disk device",
    ),
    Rule(
        "chmod-root",
        _chmod_root,
        re.compile(r"\bchmod\s++(?:-\w++\s++)*+[0-7]{3,4}\s+/(?:[\s;&|)'\"`]|$)"),
        "changes the permissions of the whole file system",
    ),
)
