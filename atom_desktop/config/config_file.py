"""Where the TOML config file is and what it says.

Read before the window's first paint (config/profile.py), so nothing here
imports pydantic; changing the file, which validates it against the
settings, is config/config_update.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atom_desktop.config.paths import CONFIG_FILE_NAME, default_config_dir
from atom_desktop.core.errors import ConfigError

# Environment variables of the settings are named ATOM_<SETTING>.
ENV_PREFIX = "ATOM_"


def config_file_path(cli: Mapping[str, Any], environ: Mapping[str, str]) -> Path:
    """Where the settings' config file is: command line, then ``ATOM_CONFIG_DIR``, then default."""
    config_dir = cli.get("config_dir") or environ.get(f"{ENV_PREFIX}CONFIG_DIR")
    return Path(config_dir or default_config_dir()).expanduser().resolve() / CONFIG_FILE_NAME


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
