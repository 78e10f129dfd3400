"""What a caller asks to run, validated before anything is spawned.

The field types are shared with the API's request bodies and automation
steps: each one's published schema (lengths, patterns, names) says what its
check takes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from atom_desktop.core.formats import NO_NUL, check_text

RunSource = Literal["ui", "api", "automation", "ai", "cli"]
#: A name a child's environment can carry, as the published pattern says it.
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_NAME = re.compile(ENV_NAME)
#: ATOM_* names (any letter case) are the agent's own settings.
AGENT_ENV = r"^[Aa][Tt][Oo][Mm]_"
MAX_ARG = 32_768
MAX_SECONDS = 7 * 24 * 3600
#: Request models take JSON's own types: no 0 for false, no "1" for 1, no NaN.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def check_no_nul(value: str | None) -> str | None:
    """``value`` unchanged; ValueError if it holds a NUL (no C string can)."""
    return value if value is None else check_text(value)


def check_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` unchanged; ValueError for a name no child can get or a NUL in a value."""
    for name, value in env.items():
        # fullmatch: the published pattern's "$" ends the text (no newline after it).
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\x00" in value:
            raise ValueError(f"the value of {name} contains a NUL character")
        if re.match(AGENT_ENV, name):
            raise ValueError(f"{name}: ATOM_* variables are the agent's own and are not passed on")
    return env


def _no_nul_args(args: list[str]) -> list[str]:
    if any("\x00" in a for a in args):
        raise ValueError("arguments cannot contain NUL characters")
    return args


def _check_args(args: list[str]) -> list[str]:
    if any(len(a) > MAX_ARG for a in args):
        raise ValueError(f"an argument is longer than {MAX_ARG} characters")
    return _no_nul_args(args)


#: One argument: no NUL (the pattern says so, the check says it in words).
Arg = Annotated[str, Field(max_length=MAX_ARG, json_schema_extra={"pattern": NO_NUL})]
Argv = Annotated[
    list[Arg],
    Field(min_length=1, max_length=4096, description="The program, then its arguments."),
    AfterValidator(_no_nul_args),
]
ShellLine = Annotated[
    str,
    Field(
        min_length=1,
        max_length=131_072,
        json_schema_extra={"pattern": NO_NUL},
        description="A line for the user's shell ($SHELL -c).",
    ),
    AfterValidator(check_text),
]
WorkDir = Annotated[
    str,
    Field(max_length=4096, json_schema_extra={"pattern": NO_NUL}),
    AfterValidator(check_text),
]
EnvValue = Annotated[str, Field(max_length=131_072, json_schema_extra={"pattern": NO_NUL})]
_ENV_NAMES = {"propertyNames": {"pattern": ENV_NAME, "not": {"pattern": AGENT_ENV}}}
Env = Annotated[
    dict[str, EnvValue],
    Field(
        max_length=512,
        json_schema_extra=_ENV_NAMES,
        description="Variables added to the agent's environment; not ATOM_* ones.",
    ),
    AfterValidator(check_env),
]
StepEnv = Annotated[
    dict[str, EnvValue],
    Field(max_length=64, json_schema_extra=_ENV_NAMES),
    AfterValidator(check_env),
]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]


class RunOptions(BaseModel):
    """Where and how to run a command, whichever way it is given."""

    model_config = STRICT

    cwd: WorkDir | None = None
    env: Env = {}
    timeout_s: Seconds | None = None
    idle_timeout_s: Seconds | None = None
    pty: bool = Field(
        default=False,
        description="Run on a pseudo-terminal (POSIX): colours and progress bars as on a "
        "terminal; stdout and stderr arrive merged as stdout.",
    )


class RunRequest(RunOptions):
    """An argv list or a shell line, with where and how to run it."""

    argv: Argv | None = None
    shell: ShellLine | None = None
    # Items are plain ``str``: pydantic's length constraint refuses the
    # surrogates that carry a file name's non-UTF-8 bytes; the validator below
    # checks the length instead.
    args: Annotated[
        list[str],
        Field(
            max_length=65_536,
            description="With 'shell', for automation steps only: positional arguments the "
            'line reads as "$@" (data the shell never parses).',
        ),
        AfterValidator(_check_args),
    ] = []

    @model_validator(mode="after")
    def _one_command(self) -> RunRequest:
        if (self.argv is None) == (self.shell is None):
            raise ValueError("give exactly one of 'argv' (a list) or 'shell' (a line)")
        if self.args and self.shell is None:
            raise ValueError("'args' go with a 'shell' line; put them in 'argv' instead")
        return self
