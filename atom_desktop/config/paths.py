"""Where ATOM Desktop keeps its files (platformdirs, overridable)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "atom-desktop"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "atom.db"


def default_config_dir() -> Path:
    """The per-user config directory of the platform."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


@dataclass(frozen=True, slots=True)
class AppPaths:
    """The directories of one profile; every path is absolute."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @classmethod
    def resolve(
        cls,
        *,
        data_dir: Path | None,
        config_dir: Path | None,
        log_dir: Path | None = None,
    ) -> AppPaths:
        """Use the given directories, the platform's defaults for the rest.

        A profile with its own data directory keeps its logs and cache inside
        it, so two profiles (or two test runs) never mix their files.
        """
        if data_dir is None:
            data = platformdirs.user_data_path(APP_NAME, appauthor=False)
            default_log = platformdirs.user_log_path(APP_NAME, appauthor=False)
            cache = platformdirs.user_cache_path(APP_NAME, appauthor=False)
        else:
            data = _absolute(data_dir)
            default_log = data / "logs"
            cache = data / "cache"
        return cls(
            data_dir=data,
            config_dir=_absolute(config_dir) if config_dir else default_config_dir(),
            log_dir=_absolute(log_dir) if log_dir else default_log,
            cache_dir=cache,
        )

    @property
    def database(self) -> Path:
        """The encrypted database file."""
        return self.data_dir / DATABASE_FILE_NAME

    @property
    def config_file(self) -> Path:
        """The optional TOML config file."""
        return self.config_dir / CONFIG_FILE_NAME

    def ensure(self) -> None:
        """Create the directories (private to the user) if they are missing."""
        for directory in (self.data_dir, self.config_dir, self.log_dir, self.cache_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _absolute(path: Path) -> Path:
    return path.expanduser().resolve()
