"""What a build says about updates: where to look and which key to trust.

A built app carries ``build-info.json`` beside its executable (the Linux and
Windows one-folder builds) or in its bundle's ``Contents/Resources`` (macOS),
written by the build script: ``{"update_url": ..., "update_public_key": ...}``.
The key comes from the build, never from a setting or the source tree, so
whoever can change the settings file cannot make the app trust their key.
A setting may point at another address (an enterprise mirror): it still has
to serve manifests signed by the build's key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from atom_desktop.core.update_address import check_url
from atom_desktop.updates.signature import public_key_from_text

BUILD_INFO_NAME = "build-info.json"


@dataclass(frozen=True)
class UpdateSource:
    """Where updates come from and the key that signs them; ``off`` says why there are none."""

    url: str | None
    public_key: Ed25519PublicKey | None
    off: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether this build can check for updates at all."""
        return self.off is None and self.url is not None and self.public_key is not None

    @classmethod
    def disabled(cls, reason: str) -> UpdateSource:
        """A source that never checks, with the reason shown to the user."""
        return cls(None, None, reason)


def build_info_candidates(executable: Path) -> list[Path]:
    """Where a build keeps ``build-info.json``, for the executable ``executable``."""
    folder = executable.parent
    return [folder / BUILD_INFO_NAME, folder.parent / "Resources" / BUILD_INFO_NAME]


def load_update_source(  # noqa: PLR0911 - one per reason updates are off
    *,
    frozen: bool,
    executable: Path,
    url_setting: str | None,
    check_setting: bool,
) -> UpdateSource:
    """Decide whether and where this copy of the app checks for updates.

    Off (with the reason) when the user opted out, when running from source,
    when the build carries no key, or when its build information is unreadable.
    """
    if not frozen:
        return UpdateSource.disabled("Running from source: update with git.")
    if not check_setting:
        return UpdateSource.disabled("Checking for updates is turned off in Settings.")
    path = next((p for p in build_info_candidates(executable) if p.is_file()), None)
    if path is None:
        return UpdateSource.disabled("This build was made without an update key.")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return UpdateSource.disabled(f"This build's {path} cannot be read ({exc}).")
    if not isinstance(info, dict):
        return UpdateSource.disabled(f"This build's {path} is not a JSON object.")
    key_text = info.get("update_public_key")
    if not isinstance(key_text, str) or not key_text.strip():
        return UpdateSource.disabled("This build was made without an update key.")
    try:
        key = public_key_from_text(key_text)
    except ValueError as exc:
        return UpdateSource.disabled(f"This build's update key is not usable: {exc}.")
    url = url_setting or info.get("update_url")
    if not isinstance(url, str) or not url:
        return UpdateSource.disabled("This build names no update address (set update_url).")
    try:
        check_url(url)
    except ValueError as exc:
        return UpdateSource.disabled(f"Updates are off: {exc}.")
    return UpdateSource(url, key)
