"""A profile: its settings, the directories they name, the secrets to hide.

:func:`load_profile` is how the program gets one. :func:`locate_profile`
answers the two questions the desktop app has before its window shows,
without loading the settings: where the config directory is (the window's
preferences live there) and where the data directory is (its lock file says
whether the app already runs). Loading the settings imports pydantic and
pydantic-settings, about 140 ms here, as long as a whole minimal Qt app
takes to show its window; the app loads them just after its first paint.

The locator follows the settings' order (command line, then ``ATOM_*``
environment, names in any case and empty meaning unset, then the config
file for what may be set there, then the platform's default) and validates
nothing: what it cannot read it leaves to :func:`load_profile`, which stays
the authority and reports the problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atom_desktop.config.config_file import ENV_PREFIX, config_file_path, read_config_file
from atom_desktop.config.paths import AppPaths
from atom_desktop.core.errors import AtomError
from atom_desktop.core.redaction import Redactor

if TYPE_CHECKING:
    from atom_desktop.config.settings import Settings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Profile:
    """The settings of one launch and what follows from them."""

    settings: Settings
    paths: AppPaths
    redactor: Redactor


def load_profile(overrides: Mapping[str, Any], *, make_dirs: bool = True) -> Profile:
    """Load and validate the settings, make the directories; ConfigError/AtomError if not.

    ``make_dirs=False`` (the doctor, which only looks) leaves the directories as they are.
    """
    from atom_desktop.config.settings import load_settings  # noqa: PLC0415 - see the module

    settings = load_settings(overrides)
    redactor = Redactor()
    for secret in (settings.api_token, settings.sync_url, settings.encryption_key):
        if secret is not None:
            redactor.add(secret.get_secret_value())
    paths = AppPaths.resolve(
        data_dir=settings.data_dir, config_dir=settings.config_dir, log_dir=settings.log_dir
    )
    try:
        if make_dirs:
            paths.ensure()
    except OSError as exc:
        raise AtomError(f"Cannot create the data directories: {exc}") from None
    return Profile(settings, paths, redactor)


@dataclass(frozen=True)
class ProfileLocation:
    """Where a profile is, as far as it can be told without the settings."""

    paths: AppPaths
    log_level: str


def locate_profile(
    overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> ProfileLocation:
    """The profile's directories and log level by the settings' rules (see the module)."""
    cli = {key: value for key, value in overrides.items() if value is not None}
    env = os.environ if environ is None else environ
    named = {key.upper(): value for key, value in env.items() if value}
    config_dir = cli.get("config_dir") or env.get(f"{ENV_PREFIX}CONFIG_DIR") or None
    file_values = _file_values(config_file_path(cli, env))

    def setting(key: str) -> object:
        if key in cli:
            return cli[key]
        if f"{ENV_PREFIX}{key.upper()}" in named:
            return named[f"{ENV_PREFIX}{key.upper()}"]
        return file_values.get(key)

    data_dir = setting("data_dir")
    log_dir = setting("log_dir")
    level = setting("log_level")
    level = level.upper() if isinstance(level, str) else "INFO"
    return ProfileLocation(
        paths=AppPaths.resolve(
            data_dir=Path(data_dir) if isinstance(data_dir, str | Path) else None,
            config_dir=Path(config_dir) if config_dir else None,
            log_dir=Path(log_dir) if isinstance(log_dir, str | Path) else None,
        ),
        log_level=level if level in LOG_LEVELS else "INFO",
    )


def _file_values(config_file: Path) -> dict[str, Any]:
    try:
        return read_config_file(config_file)
    except (AtomError, OSError):
        return {}  # load_profile reports a file it cannot read
