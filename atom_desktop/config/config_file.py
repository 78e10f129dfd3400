"""Changing the TOML config file from the app (the Settings page).

Values are validated by building :class:`Settings` from the merged file
before anything is written, and the file is replaced atomically, so a bad
value or a crash never leaves a config the agent cannot start with. Comments
in the file are not kept (the TOML writer has no round-trip mode).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from atom_desktop.core.errors import ConfigError
from atom_desktop.core.private_file import replace_private


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's values ({} when it does not exist)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The config file {path} is not valid TOML: {exc}",
            hint="Fix or remove the file, then try again.",
        ) from None


def update_config_file(path: Path, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set (or, with a None value, remove) keys; returns the new file contents."""
    # The settings (pydantic) are imported here: reading the file is also done
    # before the window's first paint (config/profile.py), which must not wait
    # for them.
    from pydantic import ValidationError  # noqa: PLC0415

    from atom_desktop.config.settings import Settings  # noqa: PLC0415

    values = read_config_file(path)
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = list(value) if isinstance(value, tuple) else value
    try:
        Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "value"
        raise ConfigError(f"{field}: {first['msg']}") from None
    replace_private(path, tomli_w.dumps(values))
    return values
