"""The Linux install: versions side by side and a ``current`` link switched atomically.

::

    INSTALL_ROOT/
      versions/0.1.0/atom-desktop     one-folder build (the tarball's top folder)
      versions/0.2.0/atom-desktop
      current -> versions/0.2.0        what the launcher entry starts
      failed/0.2.1-20261207T051500Z/   a version that did not start, kept aside

The link is replaced with ``rename``, so whoever starts ``current`` gets the
old or the new version, never a half of either. The previous version stays
installed until the next update succeeds, so it can be switched back to.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import tempfile
from pathlib import Path

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.side_by_side import SideBySide
from atom_desktop.updates.version import is_release

#: The program in a build's folder that starts the app.
EXECUTABLE_NAME = "atom-desktop"


class LinuxLayout(SideBySide):
    """An install root holding ``versions/``, ``current`` and ``failed/``."""

    @classmethod
    def of_executable(cls, executable: Path) -> LinuxLayout | None:
        """The layout the running ``executable`` belongs to, or None if it is not in one."""
        resolved = executable.resolve()
        version_dir = resolved.parent
        if version_dir.parent.name != "versions" or not is_release(version_dir.name):
            return None
        return cls(version_dir.parent.parent)

    @classmethod
    def stable_program(cls, executable: Path) -> Path:
        """The path that keeps starting the current version across updates.

        For a program inside ``INSTALL_ROOT/versions/<version>`` that is
        ``INSTALL_ROOT/current/atom-desktop`` (a menu entry or start-at-login
        entry naming the versioned path would start an old version, and break
        once that version is pruned); any other program is returned as it is.
        """
        layout = cls.of_executable(executable)
        if layout is None:
            return executable
        return layout.current_link / executable.resolve().name

    def executable(self, version: str) -> Path:
        """The program that starts ``version``."""
        return self.version_dir(version) / EXECUTABLE_NAME

    def prepare(self, artifact: Path, version: str) -> None:
        """Unpack the verified tarball into ``versions/<version>``; ``current`` is not touched.

        The tarball holds one top folder with the ``atom-desktop`` program in
        it; links or paths leaving that folder are refused (tarfile's "data" filter).
        """
        target = self.version_dir(version)
        if version == self.installed_version():
            raise InstallError(f"Version {version} is the installed one; nothing to unpack.")
        scratch: Path | None = None
        try:
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=self.versions_dir, prefix=f".unpack-{version}-"))
            with tarfile.open(artifact, "r:*") as archive:
                archive.extractall(scratch, filter="data")
            top = list(scratch.iterdir())
            if len(top) != 1 or not top[0].is_dir():
                raise InstallError(
                    f"The build {artifact.name} does not hold one top folder; "
                    "the installed app is unchanged."
                )
            program = top[0] / EXECUTABLE_NAME
            if not program.is_file():
                raise InstallError(
                    f"The build {artifact.name} has no {EXECUTABLE_NAME} program in its "
                    "top folder; the installed app is unchanged."
                )
            program.chmod(program.stat().st_mode | stat.S_IXUSR)
            if target.exists():
                # An earlier, unfinished try at the same version (never current).
                shutil.rmtree(target)
            top[0].rename(target)
        except (tarfile.TarError, OSError) as exc:
            raise InstallError(
                f"The verified build {artifact.name} could not be unpacked into "
                f"{self.versions_dir}: {exc}. The installed app is unchanged."
            ) from None
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def activate(self, version: str) -> None:
        """Point ``current`` at ``version`` in one rename."""
        if not self.executable(version).is_file():
            raise InstallError(f"Version {version} is not installed in {self.versions_dir}.")
        self.switch_current(version)
