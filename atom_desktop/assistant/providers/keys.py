"""Provider API keys in the OS keyring: one entry per provider and server, nowhere else.

A key is kept under ``assistant-key:<provider kind>:<origin of the base URL>``
in the profile's keyring service, so a key given for one server is never
sent to another (a person who points the OpenAI-compatible provider at a
local server does not hand it their OpenAI key). Settings hold only the
kind, base URL and model. Every key read or stored is registered with the
redactor, so it is masked in any log line or message it turns up in.

Blocking (the keyring is D-Bus on Linux): call these off the event loop.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from atom_desktop.core.redaction import Redactor
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault


def key_entry(kind: str, base_url: str) -> str:
    """The keyring entry of the key for provider ``kind`` at ``base_url``."""
    parts = urlsplit(base_url.strip())
    origin = f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}"
    if parts.port is not None:
        origin += f":{parts.port}"
    return f"assistant-key:{kind}:{origin}"


class ProviderKeys:
    """Reads, stores and forgets provider API keys in one profile's keyring."""

    def __init__(self, vault: KeyringVault, redactor: Redactor) -> None:
        self._vault = vault
        self._redactor = redactor

    def get(self, kind: str, base_url: str) -> str | None:
        """The key for ``kind`` at ``base_url``, or None when none is stored."""
        if not self._vault.probe().usable:
            return None
        value = self._vault.get(key_entry(kind, base_url))
        if value:
            self._redactor.add(value)
        return value or None

    def set(self, kind: str, base_url: str, key: str) -> None:
        """Keep ``key`` for ``kind`` at ``base_url``; refused without a usable keyring."""
        key = key.strip()
        if not key:
            raise SecretsError("An empty API key cannot be stored.")
        self._redactor.add(key)
        status = self._vault.probe()
        if not status.usable:
            raise SecretsError(
                f"The API key was not stored: {status.explain()}.",
                hint="Provider keys are kept only in the OS keyring; unlock or set one up.",
            )
        self._vault.set(key_entry(kind, base_url), key)

    def delete(self, kind: str, base_url: str) -> None:
        """Forget the key for ``kind`` at ``base_url`` (none stored is not an error)."""
        if self._vault.probe().usable:
            self._vault.delete(key_entry(kind, base_url))
