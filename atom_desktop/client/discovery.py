"""Finding the running agent of a profile: its port and the owner token."""

from __future__ import annotations

import os

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, read_info
from atom_desktop.secrets.api_token import OWNER_ENTRY, OwnerToken, OwnerTokenStore
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.secrets.profile import keyring_service


def agent_url(settings: Settings, paths: AppPaths) -> str:
    """``ATOM_PORT`` if set, else the port the profile's agent wrote in its lock file."""
    port = settings.port
    if "ATOM_PORT" not in os.environ:
        info = read_info(paths.data_dir / LOCK_FILE_NAME) or {}
        if isinstance(info.get("port"), int) and info["port"] > 0:
            port = info["port"]
    host = "127.0.0.1" if settings.host in ("127.0.0.1", "localhost", "0.0.0.0") else settings.host  # noqa: S104
    return f"http://{host}:{port}"


def owner_token(settings: Settings, paths: AppPaths, redactor: Redactor) -> OwnerToken | None:
    """``ATOM_API_TOKEN``, or the owner token from the keyring or the token file."""
    vault = KeyringVault(keyring_service(paths.data_dir), probe_entry=OWNER_ENTRY)
    return OwnerTokenStore(settings, paths, vault, redactor).find()
