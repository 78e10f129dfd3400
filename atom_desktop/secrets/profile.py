"""Per-profile naming of secrets, so two data directories never share a key."""

from __future__ import annotations

import hashlib
from pathlib import Path

SERVICE_PREFIX = "atom-desktop"


def profile_id(data_dir: Path) -> str:
    """A short stable id for the profile that lives in ``data_dir``."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def keyring_service(data_dir: Path) -> str:
    """The keyring service name under which this profile's secrets are kept."""
    return f"{SERVICE_PREFIX}:{profile_id(data_dir)}"
