"""Windows: the verified MSI is handed to ``msiexec``; the previous MSI is kept for a rollback.

An MSI built by Briefcase upgrades the installed app in place (its upgrade
code stays the same), so there are no side-by-side folders as on Linux: the
previous version is "kept" as its verified MSI in the updates cache, and
switching back installs that MSI again. This has been written and its logic
tested on Linux only; it has not run on Windows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from atom_desktop.updates.commands import CommandRunner, run_command
from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.version import is_release

EXECUTABLE_NAME = "ATOM Desktop.exe"


class WindowsMsiInstaller:
    """Installs MSIs kept in ``packages_dir`` (one per version) into ``install_dir``."""

    def __init__(
        self,
        install_dir: Path,
        packages_dir: Path,
        installed: str | None,
        run: CommandRunner = run_command,
    ) -> None:
        self.install_dir = install_dir
        self.packages_dir = packages_dir
        self._installed = installed
        self._run = run

    def package(self, version: str) -> Path:
        """Where the verified MSI of ``version`` is kept."""
        if not is_release(version):
            raise InstallError(f"{version!r} is not a release number.")
        return self.packages_dir / f"atom-desktop-{version}.msi"

    def installed_version(self) -> str | None:
        """The version installed now (told by the running app; MSI has no link to read)."""
        return self._installed

    def prepare(self, artifact: Path, version: str) -> None:
        """Keep the verified MSI where :meth:`activate` and a later rollback find it."""
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        target = self.package(version)
        if artifact != target:
            shutil.copyfile(artifact, target)

    def install_command(self, version: str) -> list[str]:
        """The ``msiexec`` call that installs ``version`` (a downgrade when rolling back)."""
        log = self.packages_dir / f"install-{version}.log"
        return [
            "msiexec",
            "/i",
            str(self.package(version)),
            "/passive",
            "/norestart",
            # Rolling back installs an older MSI over a newer one.
            "REINSTALLMODE=amus",
            "/l*v",
            str(log),
        ]

    def activate(self, version: str) -> None:
        """Install ``version``'s MSI; raise InstallError if msiexec fails or it was not kept."""
        if not self.package(version).is_file():
            raise InstallError(
                f"The installer of version {version} was not kept in {self.packages_dir}; "
                "it cannot be installed again."
            )
        self._run(self.install_command(version))
        self._installed = version

    def executable(self, version: str) -> Path:
        """The installed program (the same path for every version)."""
        return self.install_dir / EXECUTABLE_NAME

    def discard(self, version: str) -> Path | None:
        """Move a failed version's MSI aside so it is not offered again."""
        source = self.package(version)
        if not source.is_file():
            return None
        target = source.with_suffix(".msi.failed")
        source.replace(target)
        return target

    def prune(self, keep: set[str]) -> None:
        """Delete kept MSIs of versions other than ``keep``."""
        if not self.packages_dir.is_dir():
            return
        wanted = {self.package(v).name for v in keep}
        for entry in self.packages_dir.glob("atom-desktop-*.msi"):
            if entry.name not in wanted:
                entry.unlink(missing_ok=True)
