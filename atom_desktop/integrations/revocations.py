"""Revoking a disconnected account's grant at its provider, now or, offline, later.

RFC 7009: revoking the refresh token ends the whole grant (access tokens
included, at every provider that implements the RFC's SHOULD), so that is
the token sent. When the provider cannot be reached, the account is deleted
locally at once all the same, and the token is kept (keyring, or the
encrypted database without one) only to be revoked later: retried with
back-off, then given up and logged after :data:`REVOKE_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from atom_desktop.integrations.account_secrets import AccountSecrets
from atom_desktop.integrations.catalogue import Catalogue, Provider
from atom_desktop.integrations.clients import ClientSettings
from atom_desktop.integrations.errors import Failure, IntegrationError, retry_delay
from atom_desktop.integrations.oauth import ClientCredentials, Endpoints, OAuthClient
from atom_desktop.integrations.token_vault import decode_secret, encode_secret
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.store.integration_accounts import (
    AccountRecord,
    IntegrationAccountRepository,
    RevocationRecord,
)

logger = logging.getLogger(__name__)

#: Attempts at an owed revocation before it is given up.
REVOKE_ATTEMPTS = 12
#: Marks a revocation URL still to be found in the provider's discovery document.
_DISCOVER = "discover:"


@dataclass(frozen=True, slots=True)
class Disconnected:
    """How a disconnect went at the provider."""

    revoked: bool  # the provider confirmed the revocation
    pending: bool  # not reachable now: retried later
    message: str


def _now() -> datetime:
    return datetime.now(UTC)


class Revoker:
    """Sends revocations and keeps the ones owed."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        repo: IntegrationAccountRepository,
        secrets: AccountSecrets,
        clients: ClientSettings,
        catalogue: Catalogue,
    ) -> None:
        self._http = http
        self._repo = repo
        self._secrets = secrets
        self._clients = clients
        self._catalogue = catalogue

    async def revoke(
        self,
        account: AccountRecord,
        provider: Provider,
        values: Mapping[str, str],
        client: ClientCredentials | None,
        endpoints: Endpoints | None,
    ) -> tuple[Disconnected, RevocationRecord | None]:
        """Revoke now; or the revocation to owe when the provider is not reachable.

        ``client`` and ``endpoints`` are None when finding them failed for
        want of the network: the revocation is then owed straight away.
        """
        token = values.get("refresh_token") or values.get("access_token")
        if not token:
            return Disconnected(False, False, "Removed from this device."), None
        if endpoints is not None and endpoints.revoke is None:
            return Disconnected(
                False,
                False,
                f"Removed from this device. {provider.name} has no revocation endpoint: "
                f"revoke the app's access in your {provider.name} account settings.",
            ), None
        problem = f"{provider.name} is not reachable"
        if client is not None and endpoints is not None and endpoints.revoke is not None:
            hint = "refresh_token" if token == values.get("refresh_token") else "access_token"
            try:
                await OAuthClient(self._http, provider).revoke(
                    endpoints.revoke, client, token, hint
                )
            except IntegrationError as exc:
                if exc.failure is not Failure.TRANSIENT:
                    return Disconnected(False, False, f"Removed; {exc.message}"), None
                problem = exc.message.rstrip(".")
            else:
                return Disconnected(True, False, f"Revoked at {provider.name} and removed."), None
        owed = await self._owe(account, provider, endpoints, token, values.get("client_secret"))
        if owed is None:
            return Disconnected(False, False, f"Removed; {problem}."), None
        return Disconnected(
            False, True, f"Removed; {problem}: the revocation is retried later."
        ), owed

    async def _owe(
        self,
        account: AccountRecord,
        provider: Provider,
        endpoints: Endpoints | None,
        token: str,
        client_secret: str | None,
    ) -> RevocationRecord | None:
        revoke_url = endpoints.revoke if endpoints else provider.revoke_url
        if revoke_url is None and provider.discovery is not None:
            revoke_url = _DISCOVER + provider.discovery
        if revoke_url is None:
            return None
        kept = {"token": token}
        if client_secret:
            kept["client_secret"] = client_secret
        now = _now()
        revocation = RevocationRecord(
            id=self._repo.new_id(),
            provider=account.provider,
            account=account.account,
            revoke_url=revoke_url,
            client_id=account.client_id,
            token_storage=self._secrets.storage(),
            secret=None,
            attempts=0,
            next_attempt_at=now + retry_delay(1),
            last_error=None,
            created_at=now,
        )
        return await asyncio.to_thread(
            self._secrets.keep_for_revocation, revocation, encode_secret(kept)
        )

    async def retry_due(self) -> int:
        """Try the owed revocations that are due; returns how many the providers confirmed."""
        done = 0
        for revocation in await asyncio.to_thread(self._repo.revocations_due, _now()):
            if await self._retry(revocation):
                done += 1
        return done

    async def _retry(self, revocation: RevocationRecord) -> bool:
        try:
            text = await asyncio.to_thread(self._secrets.revocation_token, revocation)
            kept = decode_secret(text) if text is not None else {}
        except SecretsError as exc:
            logger.warning("An owed revocation's token is unreadable (%s); dropped", exc.message)
            kept = {}
        if not kept.get("token") or revocation.provider not in self._catalogue:
            await self._drop(revocation)
            return False
        provider = self._catalogue.get(revocation.provider)
        try:
            url = await self._revoke_url(provider, revocation.revoke_url)
            if url is None:
                await self._drop(revocation)
                return False
            client_id = revocation.client_id or self._clients.client_id(provider.id) or ""
            secret = kept.get("client_secret") or self._clients.client_secret(provider.id)
            method = provider.token_endpoint_auth if secret else "none"
            await OAuthClient(self._http, provider).revoke(
                url, ClientCredentials(client_id, secret, method), kept["token"], None
            )
        except IntegrationError as exc:
            attempts = revocation.attempts + 1
            if exc.failure is Failure.TRANSIENT and attempts < REVOKE_ATTEMPTS:
                await asyncio.to_thread(
                    self._repo.revocation_failed,
                    revocation.id,
                    exc.message,
                    _now() + retry_delay(attempts + 1),
                )
                return False
            logger.warning(
                "Gave up revoking a %s token of %s: %s",
                provider.name,
                revocation.account or "a removed account",
                exc.message,
            )
            await self._drop(revocation)
            return False
        logger.info("Revoked the %s token of a removed integration", provider.name)
        await self._drop(revocation)
        return True

    async def _revoke_url(self, provider: Provider, url: str) -> str | None:
        if not url.startswith(_DISCOVER):
            return url
        # Found now: the discovery document could not be read at disconnect.
        discovered = provider.model_copy(update={"discovery": url.removeprefix(_DISCOVER)})
        return (await OAuthClient(self._http, discovered).endpoints()).revoke

    async def _drop(self, revocation: RevocationRecord) -> None:
        await asyncio.to_thread(self._secrets.drop_revocation, revocation)
        await asyncio.to_thread(self._repo.revocation_done, revocation.id)
