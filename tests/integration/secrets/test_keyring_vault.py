"""The keyring vault against a real Secret Service (gnome-keyring on D-Bus)."""

from __future__ import annotations

from typing import Any

import keyring.backend

from atom_desktop.secrets.keyring_vault import KeyringState, KeyringVault
from tests.support.secret_service import SecretServiceSession


class CountingReads(keyring.backend.KeyringBackend):
    """The real Secret Service backend, counting the reads that reach it."""

    priority = 1

    def __init__(self, real: keyring.backend.KeyringBackend) -> None:
        super().__init__()
        self.real = real
        self.reads: list[str] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.reads.append(username)
        return self.real.get_password(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self.real.set_password(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        self.real.delete_password(service, username)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_probe_reads_the_entry_the_caller_needs_first(
    secret_service: SecretServiceSession,
) -> None:
    service = "atom-desktop-test-probe"
    secret_service.backend().set_password(service, "database-key", "00ff")
    counting = CountingReads(secret_service.backend())
    vault = KeyringVault(service, counting, probe_entry="database-key")
    assert vault.probe().state is KeyringState.AVAILABLE
    assert vault.get("database-key") == "00ff"  # remembered by the probe
    assert counting.reads == ["database-key"]
    assert vault.get("api-token") is None  # anything else is read as before
    assert counting.reads == ["database-key", "api-token"]


def test_a_probe_of_a_missing_entry_remembers_that_it_is_missing(
    secret_service: SecretServiceSession,
) -> None:
    counting = CountingReads(secret_service.backend())
    vault = KeyringVault("atom-desktop-test-empty", counting, probe_entry="database-key")
    assert vault.probe().usable
    assert vault.get("database-key") is None
    assert counting.reads == ["database-key"]
