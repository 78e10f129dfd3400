"""Every program a run request will start, as far as its text can tell.

An argv list is one program with its arguments, read as they are (never as a
shell line). A shell line is split into its simple commands
(:mod:`atom_desktop.runner.shell_words`), command substitutions included.
Either way, wrappers are opened (``sudo rm`` also runs ``rm``; ``env``,
``nice``, ``nohup``, ``xargs`` and others alike), and the text a shell is
handed to run (``sh -c '...'``, ``eval``, ``bash <<< '...'``) is read as a
shell line in turn. What cannot be read - a quote left open, nesting deeper
than MAX_DEPTH - is kept as text for the caller's conservative reading.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from atom_desktop.runner.shell_words import (
    HERE_DOCUMENTS,
    Redirect,
    ShellSyntaxError,
    SimpleCommand,
    split_commands,
)

# Shell text inside shell text inside...: beyond this the rest is read as text.
MAX_DEPTH = 8
# Wrappers around wrappers (sudo nice env ... rm): beyond this, likewise.
MAX_WRAPPERS = 16
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish"})
# Shell options whose value is the next word (bash -o pipefail -c '...').
SHELL_VALUE_OPTIONS = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A program that runs the command given after its options (and ``operands`` more words).

    Options that take a value must be listed: their value is not the command.
    """

    takes_value: frozenset[str] = frozenset()  # options whose value is the next word
    operands: int = 0  # words between the options and the command (timeout's duration)
    assignments: bool = False  # NAME=value words before the command (env, sudo)
    runs_nothing: frozenset[str] = frozenset()  # options that only print or edit (command -v)


WRAPPERS = {
    "sudo": Wrapper(
        frozenset(
            {
                *("-C", "-D", "-g", "-h", "-p", "-R", "-r", "-t", "-T", "-U", "-u"),
                *("--close-from", "--chdir", "--group", "--host", "--prompt", "--chroot"),
                *("--role", "--type", "--command-timeout", "--other-user", "--user"),
            }
        ),
        assignments=True,
        runs_nothing=frozenset({"-l", "--list", "-e", "--edit", "-v", "--validate", "-k", "-K"}),
    ),
    "doas": Wrapper(frozenset({"-u", "-C"})),
    "env": Wrapper(frozenset({"-u", "--unset", "-C", "--chdir"}), assignments=True),
    "nice": Wrapper(frozenset({"-n", "--adjustment"})),
    "ionice": Wrapper(frozenset({"-c", "--class", "-n", "--classdata"})),
    "nohup": Wrapper(),
    "setsid": Wrapper(),
    "command": Wrapper(runs_nothing=frozenset({"-v", "-V"})),
    "builtin": Wrapper(),
    "exec": Wrapper(frozenset({"-a"})),
    "time": Wrapper(frozenset({"-f", "--format", "-o", "--output"})),
    "timeout": Wrapper(frozenset({"-s", "--signal", "-k", "--kill-after"}), operands=1),
    "stdbuf": Wrapper(frozenset({"-i", "-o", "-e", "--input", "--output", "--error"})),
    "xargs": Wrapper(
        frozenset(
            {
                *("-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"),
                *("--max-args", "--max-procs", "--max-lines", "--max-chars", "--delimiter"),
                *("--eof", "--arg-file", "--process-slot-var"),
            }
        )
    ),
    "busybox": Wrapper(),  # busybox rm ...: the applet is the command
    "unbuffer": Wrapper(),
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A program about to run: its argv (program as written), redirections, and where it was.

    ``written`` is the simple command it was found in, as written: the same
    as ``argv`` unless wrappers ran it (``sudo rm -rf /`` for ``rm -rf /``).
    ``program`` is the program's name (``/bin/rm`` and ``RM.EXE`` are ``rm``).
    """

    argv: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()
    written: tuple[str, ...] = ()
    program: str = field(init=False)

    def __post_init__(self) -> None:
        name = posixpath.basename(self.argv[0].replace("\\", "/")).lower() if self.argv else ""
        object.__setattr__(self, "program", name.removesuffix(".exe"))

    @property
    def args(self) -> tuple[str, ...]:
        """The arguments after the program."""
        return self.argv[1:]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Text the parser could not read, and why."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What a request runs: every invocation, every simple command as written, every text read."""

    invocations: tuple[Invocation, ...]
    commands: tuple[tuple[str, ...], ...]  # simple commands as written, nested ones too
    shell_texts: tuple[str, ...]  # the line, and every shell text found inside it
    unreadable: tuple[Unreadable, ...]  # shell texts (or words) the parser could not read


def read_argv(argv: Sequence[str]) -> Reading:
    """What an argv list runs: its program, and what that program is made to run."""
    reader = _Reader()
    reader.commands.append(tuple(argv))
    reader.command(tuple(argv), (), depth=0)
    return reader.reading()


def read_shell(line: str) -> Reading:
    """What a shell line runs, as far as a parser can tell."""
    reader = _Reader()
    reader.shell(line, depth=0)
    return reader.reading()


@dataclass
class _Reader:
    invocations: list[Invocation] = field(default_factory=list)
    commands: list[tuple[str, ...]] = field(default_factory=list)
    shell_texts: list[str] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    def reading(self) -> Reading:
        return Reading(
            tuple(self.invocations),
            tuple(self.commands),
            tuple(self.shell_texts),
            tuple(self.unreadable),
        )

    def shell(self, text: str, depth: int) -> None:
        """Read the shell text ``text`` (a line, or a string a shell is handed)."""
        if depth > MAX_DEPTH:
            self.shell_texts.append(text)
            self.unreadable.append(Unreadable(text, f"shells nested more than {MAX_DEPTH} deep"))
            return
        try:
            commands = split_commands(text)
        except ShellSyntaxError as exc:
            self.shell_texts.append(text)
            self.unreadable.append(Unreadable(text, str(exc)))
            return
        self.parsed(text, commands, depth)

    def parsed(self, text: str, commands: Sequence[SimpleCommand], depth: int) -> None:
        self.shell_texts.append(text)
        for command in commands:
            for substitution in command.substitutions:
                if depth + 1 > MAX_DEPTH:
                    self.shell(substitution.text, depth + 1)
                else:
                    self.parsed(substitution.text, substitution.commands, depth + 1)
            if command.words:
                self.commands.append(command.words)
            self.command(command.words, command.redirects, depth)

    def command(self, argv: tuple[str, ...], redirects: tuple[Redirect, ...], depth: int) -> None:
        """Record ``argv`` and whatever it runs in turn (a wrapped command, a shell's text)."""
        written = argv
        for _ in range(MAX_WRAPPERS):
            invocation = Invocation(argv, redirects, written)
            self.invocations.append(invocation)
            script = shell_script(invocation)
            if script is not None:
                self.shell(script, depth + 1)
            inner = unwrapped(invocation)
            if inner is None:
                return
            argv = inner
        self.unreadable.append(
            Unreadable(" ".join(written), f"more than {MAX_WRAPPERS} wrappers around a command")
        )


def unwrapped(invocation: Invocation) -> tuple[str, ...] | None:
    """The command a wrapper (sudo, env, nice, xargs, ...) runs, or None."""
    wrapper = WRAPPERS.get(invocation.program)
    if wrapper is None:
        return None
    args = invocation.args
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            index += 1
            break
        if word in wrapper.runs_nothing:
            return None
        if word.startswith("-") and len(word) > 1:
            index += 2 if word in wrapper.takes_value else 1
        elif wrapper.assignments and "=" in word and not word.startswith("="):
            index += 1
        else:
            break
    index += wrapper.operands
    return args[index:] or None


def shell_script(invocation: Invocation) -> str | None:
    """The text a shell (``-c``, here-string, here-document), ``eval`` or ``su -c`` runs."""
    program, args = invocation.program, invocation.args
    if program == "eval":
        return " ".join(args) or None
    if program in ("su", "runuser"):
        return _option_value(args, "-c", "--command")
    if program not in SHELLS:
        return None
    index, command_string = 0, False
    while index < len(args):
        word = args[index]
        if word == "--":
            index += 1
            break
        if word in ("-", "+") or not word.startswith(("-", "+")):
            break
        if word in SHELL_VALUE_OPTIONS:
            index += 2
            continue
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            command_string = True  # -c, or with others: -ec, -lc
        index += 1
    operands = args[index:]
    if command_string:
        return operands[0] if operands else None
    if operands:
        return None  # a script file: its text is not in the request
    return next(
        (r.target for r in invocation.redirects if r.op in HERE_DOCUMENTS or r.op == "<<<"),
        None,
    )


def _option_value(args: tuple[str, ...], short: str, long: str) -> str | None:
    for index, word in enumerate(args):
        if word in (short, long) and index + 1 < len(args):
            return args[index + 1]
        if word.startswith(long + "="):
            return word[len(long) + 1 :]
    return None
