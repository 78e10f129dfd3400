"""What a caller asks to run, validated before anything is spawned."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RunSource = Literal["ui", "api", "automation", "ai", "cli"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ARG = 32_768


class RunRequest(BaseModel):
    """An argv list or a shell line, with where and how to run it."""

    model_config = ConfigDict(extra="forbid")

    argv: (
        Annotated[
            list[Annotated[str, Field(max_length=32_768)]], Field(min_length=1, max_length=4096)
        ]
        | None
    ) = None
    shell: Annotated[str, Field(min_length=1, max_length=131_072)] | None = None
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
    ] = []
    cwd: Annotated[str, Field(max_length=4096)] | None = None
    env: Annotated[dict[str, Annotated[str, Field(max_length=131_072)]], Field(max_length=512)] = {}
    timeout_s: Annotated[float, Field(gt=0, le=7 * 24 * 3600)] | None = None
    idle_timeout_s: Annotated[float, Field(gt=0, le=7 * 24 * 3600)] | None = None
    pty: bool = Field(
        default=False,
        description="Run on a pseudo-terminal (POSIX): colours and progress bars as on a "
        "terminal; stdout and stderr arrive merged as stdout.",
    )

    @model_validator(mode="after")
    def _one_command(self) -> RunRequest:
        if (self.argv is None) == (self.shell is None):
            raise ValueError("give exactly one of 'argv' (a list) or 'shell' (a line)")
        if self.args and self.shell is None:
            raise ValueError("'args' go with a 'shell' line; put them in 'argv' instead")
        return self

    @field_validator("argv")
    @classmethod
    def _no_nul_in_argv(cls, argv: list[str] | None) -> list[str] | None:
        if argv is not None and any("\x00" in a for a in argv):
            raise ValueError("arguments cannot contain NUL characters")
        return argv

    @field_validator("args")
    @classmethod
    def _check_args(cls, args: list[str]) -> list[str]:
        if any(len(a) > MAX_ARG for a in args):
            raise ValueError(f"an argument is longer than {MAX_ARG} characters")
        if any("\x00" in a for a in args):
            raise ValueError("arguments cannot contain NUL characters")
        return args

    @field_validator("shell", "cwd")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return check_no_nul(value)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        return check_env(env)


def check_no_nul(value: str | None) -> str | None:
    """``value`` unchanged; ValueError if it holds a NUL (no C string can)."""
    if value is not None and "\x00" in value:
        raise ValueError("cannot contain NUL characters")
    return value


def check_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` unchanged; ValueError for a name no child can get or a NUL in a value."""
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if "\x00" in value:
            raise ValueError(f"the value of {name} contains a NUL character")
        if name.upper().startswith("ATOM_"):
            raise ValueError(f"{name}: ATOM_* variables are the agent's own and are not passed on")
    return env
