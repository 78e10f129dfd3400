"""The window's own preferences (not the agent's): a small TOML file.

Kept apart from ``config.toml`` so the agent's settings model stays strict,
and apart from QSettings so tests and profiles (``--config-dir``) keep
everything in one explicit directory.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import tomli_w

from atom_desktop.core.private_file import replace_private

logger = logging.getLogger(__name__)

FILE_NAME = "desktop.toml"


@dataclass
class Preferences:
    """What the window remembers between launches."""

    notifications: bool = True
    tray_hint_shown: bool = False

    @classmethod
    def load(cls, config_dir: Path) -> Preferences:
        """Read the file; a missing or damaged one gives the defaults (and a log line)."""
        path = config_dir / FILE_NAME
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            logger.warning("Ignoring unreadable %s (%s); using defaults", path, exc)
            return cls()
        known = {f.name: f.type for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known and isinstance(v, bool)}
        return cls(**values)

    def save(self, config_dir: Path) -> None:
        """Write the file atomically."""
        replace_private(config_dir / FILE_NAME, tomli_w.dumps(asdict(self)))
