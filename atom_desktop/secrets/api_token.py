"""API token secrets: their format, their hash, and where the owner token lives.

Tokens are ``atom_`` followed by 43 URL-safe characters (256 random bits), so
a plain SHA-256 is enough to store them: nothing to brute-force. The owner
token (all scopes) is kept like the database key: in the OS keyring, or a
0600 file in the config directory when there is no usable keyring, or taken
from ``ATOM_API_TOKEN`` (whose shape the settings check at the start).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import API_TOKEN_PREFIX, Settings
from atom_desktop.core.private_file import create_private
from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.secrets.profile import profile_id

logger = logging.getLogger(__name__)

PREFIX = API_TOKEN_PREFIX
OWNER_ENTRY = "api-token"
TokenStorage = Literal["environment", "keyring", "file"]


def new_token() -> str:
    """A fresh token secret."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """A cheap shape check before any lookup."""
    return value.startswith(PREFIX) and 20 <= len(value) <= 200 and value.isascii()


@dataclass(frozen=True, slots=True)
class OwnerToken:
    """The owner token and where it is kept; ``repr`` never shows it."""

    secret: str = field(repr=False)
    storage: TokenStorage
    location: str


class OwnerTokenStore:
    """Finds (and on first start makes) the owner token of one profile."""

    def __init__(
        self, settings: Settings, paths: AppPaths, vault: KeyringVault, redactor: Redactor
    ) -> None:
        self._settings = settings
        self._paths = paths
        self._vault = vault
        self._redactor = redactor

    @property
    def file_path(self) -> Path:
        """Where the token goes without a usable keyring."""
        return self._paths.config_dir / "tokens" / f"{profile_id(self._paths.data_dir)}.token"

    def find(self) -> OwnerToken | None:
        """The owner token if one exists (the CLI's lookup; never creates one)."""
        env = self._settings.api_token
        if env is not None:
            return self._remember(env.get_secret_value(), "environment", "ATOM_API_TOKEN")
        if self._vault.probe().usable:
            value = self._vault.get(OWNER_ENTRY)
            if value is not None:
                return self._remember(value, "keyring", f"OS keyring ({self._vault.service})")
        if self.file_path.exists():
            return self._remember(self._read_file(), "file", str(self.file_path))
        return None

    def load_or_create(self) -> OwnerToken:
        """The owner token; made and stored at first start."""
        found = self.find()
        if found is not None:
            if not looks_like_token(found.secret) and found.storage != "environment":
                raise SecretsError(f"The owner token in the {found.location} is damaged.")
            return found
        token = new_token()
        self._redactor.add(token)
        if self._vault.probe().usable:
            self._vault.set(OWNER_ENTRY, token)
            logger.info("Made the owner API token and stored it in the OS keyring")
            return OwnerToken(token, "keyring", f"OS keyring ({self._vault.service})")
        if self._settings.key_storage == "keyring":
            raise SecretsError(
                f"The owner API token cannot be stored: {self._vault.probe().explain()}, and "
                "ATOM_KEY_STORAGE=keyring allows no token file.",
                hint="Unlock or start a keyring, or set ATOM_API_TOKEN.",
            )
        path = self.file_path
        create_private(path, token + "\n")
        logger.warning("The owner API token is kept in the file %s (no usable OS keyring)", path)
        return OwnerToken(token, "file", str(path))

    def _read_file(self) -> str:
        try:
            return self.file_path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsError(f"The token file {self.file_path} cannot be read: {exc}.") from None

    def _remember(self, secret: str, storage: TokenStorage, location: str) -> OwnerToken:
        self._redactor.add(secret)
        return OwnerToken(secret, storage, location)
