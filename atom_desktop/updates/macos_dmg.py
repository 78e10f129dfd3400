"""macOS: the verified DMG is mounted and its app copied beside the previous one.

The layout mirrors Linux: ``INSTALL_ROOT/versions/<version>/ATOM Desktop.app``
and a ``current`` link switched with one rename; the Dock and Launchpad
start ``INSTALL_ROOT/ATOM Desktop.app``, a link to ``current/ATOM Desktop.app``.
The DMG is attached read-only with ``hdiutil`` at a private mount point and
copied with ``ditto`` (which keeps the bundle's signature and extended
attributes), then detached. Written and tested for its logic on Linux; it has
not run on macOS.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from atom_desktop.updates.commands import CommandRunner, run_command
from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.side_by_side import SideBySide

APP_NAME = "ATOM Desktop.app"
EXECUTABLE_IN_APP = Path("Contents") / "MacOS" / "ATOM Desktop"


class MacDmgInstaller(SideBySide):
    """Installs DMG builds side by side under ``root`` and switches ``current``."""

    def __init__(self, root: Path, run: CommandRunner = run_command) -> None:
        super().__init__(root)
        self._run = run

    def prepare_commands(self, artifact: Path, version: str, mount: Path) -> list[list[str]]:
        """The attach, copy and detach calls that install ``artifact`` as ``version``."""
        return [
            [
                "hdiutil",
                "attach",
                str(artifact),
                "-nobrowse",
                "-readonly",
                "-noautoopen",
                "-mountpoint",
                str(mount),
            ],
            ["ditto", str(mount / APP_NAME), str(self.version_dir(version) / APP_NAME)],
            ["hdiutil", "detach", str(mount), "-force"],
        ]

    def prepare(self, artifact: Path, version: str) -> None:
        """Copy the app out of the verified DMG into ``versions/<version>``."""
        target = self.version_dir(version)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        mount = Path(tempfile.mkdtemp(prefix="atom-update-"))
        attach, copy, detach = self.prepare_commands(artifact, version, mount)
        try:
            self._run(attach)
            try:
                self._run(copy)
            finally:
                self._run(detach)
        except InstallError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(mount, ignore_errors=True)

    def activate(self, version: str) -> None:
        """Point ``current`` (and the app link beside it) at ``version`` in one rename."""
        if not (self.version_dir(version) / APP_NAME).exists():
            raise InstallError(f"Version {version} is not installed in {self.versions_dir}.")
        self.switch_current(version)
        app_link = self.root / APP_NAME
        if not app_link.is_symlink():
            app_link.unlink(missing_ok=True)
            app_link.symlink_to(Path("current") / APP_NAME)

    def executable(self, version: str) -> Path:
        """The program inside ``version``'s bundle."""
        return self.version_dir(version) / APP_NAME / EXECUTABLE_IN_APP
