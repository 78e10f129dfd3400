"""The steps of an update, each blocking and each safe to retry: check, download, prepare."""

from __future__ import annotations

from pathlib import Path

import httpx

from atom_desktop.updates.build_info import UpdateSource
from atom_desktop.updates.download import Progress, build_file_name, download_build, fetch_manifest
from atom_desktop.updates.errors import ManifestRefusedError, UpdateError
from atom_desktop.updates.installer import Installer
from atom_desktop.updates.manifest import Manifest, PlatformBuild, PlatformName
from atom_desktop.updates.signature import verify_document
from atom_desktop.updates.version import Release


class Updater:
    """Checks the signed manifest, downloads and verifies a build, and unpacks it beside the app.

    Nothing here changes what starts: that is the handover's job
    (:mod:`atom_desktop.updates.handover`), after the app has quit.
    """

    def __init__(
        self,
        source: UpdateSource,
        *,
        installer: Installer,
        installed: str,
        platform: PlatformName | None,
        cache_dir: Path,
        client: httpx.Client | None = None,
    ) -> None:
        if not source.enabled:
            raise UpdateError(source.off or "Updates are off.")
        self.source = source
        self.installer = installer
        self.installed = installed
        self.platform = platform
        self.cache_dir = cache_dir
        self._client = client

    def check(self) -> Manifest | None:
        """The newer release the signed manifest offers, or None when this one is current.

        Raises :class:`ManifestRefusedError` for a bad signature, a malformed
        manifest or an older version (a replayed old manifest must not roll
        the app back), and UpdateError when the manifest cannot be fetched
        or has no build for this system.
        """
        assert self.source.url is not None and self.source.public_key is not None
        manifest = verify_document(
            fetch_manifest(self.source.url, self._client), self.source.public_key
        )
        offered, installed = manifest.release, Release(self.installed)
        if offered < installed:
            raise ManifestRefusedError(
                f"The update manifest offers version {manifest.version}, older than the "
                f"installed {self.installed}: downgrades are refused, so an old manifest "
                "served again cannot roll the app back. Nothing was changed."
            )
        if offered == installed:
            return None
        self.build_for(manifest)
        return manifest

    def build_for(self, manifest: Manifest) -> PlatformBuild:
        """This system's build in ``manifest``; UpdateError if it has none."""
        build = manifest.platforms.get(self.platform) if self.platform is not None else None
        if build is None:
            raise UpdateError(
                f"Version {manifest.version} has no build for this system "
                f"({self.platform or 'not one updates are made for'})."
            )
        return build

    def download(self, manifest: Manifest, progress: Progress | None = None) -> Path:
        """This system's build of ``manifest``, downloaded and verified (size and SHA-256)."""
        build = self.build_for(manifest)
        name = build_file_name(manifest.version, build.url)
        return download_build(build, self.cache_dir, name, progress, self._client)

    def prepare(self, manifest: Manifest, artifact: Path) -> None:
        """Unpack the verified build beside the installed app, which stays as it is."""
        self.installer.prepare(artifact, manifest.version)

    def forget_downloads(self, keep: Path | None = None) -> None:
        """Delete cached builds other than ``keep`` (older downloads, leftovers)."""
        if not self.cache_dir.is_dir():
            return
        for entry in self.cache_dir.iterdir():
            if entry.is_file() and entry != keep:
                entry.unlink(missing_ok=True)
