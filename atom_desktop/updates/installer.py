"""What applying an update needs from each system's way of installing the app."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Installer(Protocol):
    """Installs verified builds side by side and switches between them.

    The handover (:mod:`atom_desktop.updates.handover`) uses only these
    methods, so the same trial-and-rollback logic runs on every system.
    """

    def installed_version(self) -> str | None:
        """The version the app starts as now, or None when it cannot be told."""
        ...

    def prepare(self, artifact: Path, version: str) -> None:
        """Make ``version`` ready from the verified ``artifact``; the running app is untouched."""
        ...

    def activate(self, version: str) -> None:
        """Make ``version`` the one that starts (it must have been prepared or kept)."""
        ...

    def executable(self, version: str) -> Path:
        """The program that starts ``version`` once it is active."""
        ...

    def discard(self, version: str) -> Path | None:
        """Move a failed version out of the way (kept for a post-mortem); where it went."""
        ...

    def prune(self, keep: set[str]) -> None:
        """Delete installed versions other than ``keep`` (the new one and the previous)."""
        ...
