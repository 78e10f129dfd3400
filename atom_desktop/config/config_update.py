"""Changing the TOML config file from the app (the Settings page).

Values are validated by building :class:`Settings` from the merged file
before anything is written, and the file is replaced atomically, so a bad
value or a crash never leaves a config the agent cannot start with. Comments
in the file are not kept (the TOML writer has no round-trip mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from atom_desktop.config.config_file import read_config_file
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import ConfigError
from atom_desktop.core.private_file import replace_private


def update_config_file(path: Path, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set (or, with a None value, remove) keys; returns the new file contents."""
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
