"""What can go wrong with an update, each with a message a person can act on."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class UpdateError(AtomError):
    """An update could not be checked, fetched or installed; the installed app is unchanged."""


class ManifestRefusedError(UpdateError):
    """The update manifest is not signed by this build's key, is malformed, or is a downgrade."""


class DownloadRefusedError(UpdateError):
    """The downloaded build is not the one the manifest describes (size or SHA-256)."""


class InstallError(UpdateError):
    """The verified build could not be unpacked or switched to."""
