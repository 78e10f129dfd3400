"""Versions side by side under an install root, and a ``current`` link switched in one rename.

Shared by the Linux layout (:mod:`atom_desktop.updates.linux_layout`) and the
macOS installer (:mod:`atom_desktop.updates.macos_dmg`): where a version
lives, which one is current, and how a failed one is moved aside and old
ones are deleted.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.version import is_release

#: Failed versions kept for a look at what went wrong; older ones are deleted.
FAILED_KEPT = 2


class SideBySide:
    """An install root holding ``versions/``, ``current`` and ``failed/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self.current_link = root / "current"
        self.failed_dir = root / "failed"

    def installed_version(self) -> str | None:
        """The version ``current`` points at."""
        try:
            name = self.current_link.readlink().name
        except OSError:
            return None
        return name if is_release(name) else None

    def version_dir(self, version: str) -> Path:
        """Where ``version`` is installed."""
        if not is_release(version):
            raise InstallError(f"{version!r} is not a release number; nothing was installed.")
        return self.versions_dir / version

    def switch_current(self, version: str) -> None:
        """Point ``current`` at ``versions/<version>`` in one rename."""
        temp = self.root / f".current-{os.getpid()}"
        temp.unlink(missing_ok=True)
        temp.symlink_to(Path("versions") / version)
        temp.replace(self.current_link)

    def discard(self, version: str) -> Path | None:
        """Move ``version`` to ``failed/`` (never the current one); the newest few are kept."""
        source = self.version_dir(version)
        if version == self.installed_version() or not source.exists():
            return None
        self.failed_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.failed_dir / f"{version}-{stamp}"
        source.rename(target)
        # Newest first by the time in the name (a rename keeps a folder's old mtime).
        kept = sorted(self.failed_dir.iterdir(), key=lambda p: p.name.rpartition("-")[2])[::-1]
        for old in kept[FAILED_KEPT:]:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def prune(self, keep: set[str]) -> None:
        """Delete versions other than ``keep`` and the current one, and unpack leftovers."""
        if not self.versions_dir.is_dir():
            return
        keep = keep | {v for v in [self.installed_version()] if v is not None}
        for entry in self.versions_dir.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
