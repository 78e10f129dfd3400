"""Where each account's tokens are: the OS keyring, or (without one) the encrypted database.

Blocking calls (keyring over D-Bus, SQLite): run them off the event loop.
Every value read or written is registered with the agent's redactor, so a
token that turns up in a log line, a step's result or a child's environment
is masked there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from atom_desktop.core.redaction import Redactor
from atom_desktop.integrations.token_vault import (
    TokenVault,
    account_entry,
    decode_secret,
    encode_secret,
    revocation_entry,
)
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.store.integration_accounts import (
    AccountRecord,
    IntegrationAccountRepository,
    RevocationRecord,
)

logger = logging.getLogger(__name__)

KEYRING = "keyring"
DATABASE = "database"


class AccountSecrets:
    """Reads and replaces account secrets so that one complete set always survives."""

    def __init__(
        self, repo: IntegrationAccountRepository, vault: TokenVault, redactor: Redactor
    ) -> None:
        self._repo = repo
        self._vault = vault
        self._redactor = redactor

    def storage(self) -> str:
        """Where a new account's secrets go now."""
        return KEYRING if self._vault.usable else DATABASE

    def _register(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            if name != "token_type":
                self._redactor.add(value)

    def read(self, account: AccountRecord) -> dict[str, str]:
        """The account's secret values ({} when it has none yet)."""
        if account.secret_generation == 0:
            return {}
        if account.token_storage == DATABASE:
            text = account.secret
        else:
            text = self._vault.read(account_entry(account.id, account.secret_generation))
        if text is None:
            raise SecretsError(
                f"The secrets of integration {account.id} are missing from the "
                f"{'OS keyring' if account.token_storage == KEYRING else 'database'}.",
                hint="Reconnect the integration.",
            )
        values = decode_secret(text)
        self._register(values)
        return values

    def replace(
        self, account: AccountRecord, values: Mapping[str, str], **changes: object
    ) -> AccountRecord:
        """Store ``values`` as the account's new secrets, with ``changes`` to its row.

        The new generation is complete before the row points at it; the old
        one is removed after. A crash in between leaves an unused entry,
        never an account without tokens.
        """
        self._register(values)
        text = encode_secret(values)
        generation = account.secret_generation + 1
        if account.token_storage == DATABASE:
            return self._repo.update(
                account.id, secret=text, secret_generation=generation, **changes
            )
        entry = account_entry(account.id, generation)
        self._vault.write(entry, text)
        try:
            updated = self._repo.update(account.id, secret_generation=generation, **changes)
        except BaseException:
            self._forget(entry)
            raise
        if account.secret_generation:
            self._forget(account_entry(account.id, account.secret_generation))
        return updated

    def remove(self, account: AccountRecord) -> None:
        """Delete the account's keyring entries (the row holds the rest)."""
        if account.token_storage == KEYRING and account.secret_generation:
            self._forget(account_entry(account.id, account.secret_generation))

    def keep_for_revocation(self, revocation: RevocationRecord, text: str) -> RevocationRecord:
        """Keep ``text`` (the token, and the client secret to send with it) until
        the provider confirms the revocation."""
        if revocation.token_storage == DATABASE:
            return dataclasses.replace(revocation, secret=text)
        self._vault.write(revocation_entry(revocation.id), text)
        return revocation

    def revocation_token(self, revocation: RevocationRecord) -> str | None:
        """What :meth:`keep_for_revocation` kept (None when it is lost)."""
        if revocation.token_storage == DATABASE:
            return revocation.secret
        return self._vault.read(revocation_entry(revocation.id))

    def drop_revocation(self, revocation: RevocationRecord) -> None:
        """Forget an owed revocation's token."""
        if revocation.token_storage == KEYRING:
            self._forget(revocation_entry(revocation.id))

    def _forget(self, entry: str) -> None:
        try:
            self._vault.remove(entry)
        except SecretsError as exc:
            # The keyring refused now (locked?); the entry is orphaned, not exposed.
            logger.warning("Could not delete the keyring entry %s: %s", entry, exc.message)
