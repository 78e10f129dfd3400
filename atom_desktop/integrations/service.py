"""The integration service: connect, keep tokens fresh, check, use and revoke accounts.

Runs on the agent's event loop. What it keeps:

- Accounts (rows in the encrypted store) and their secrets (OS keyring, or
  the database without one), mirrored in memory, so that handing a fresh
  token to a caller costs no I/O.
- One lock per account: concurrent callers that find the token about to
  expire share one refresh. A provider that rotates refresh tokens revokes
  the whole grant when an old one is replayed, so two refreshes must never
  race (DESIGN.md "Integrations").
- Sign-ins under way (:mod:`.flows`), completed by the loopback callback or,
  for agents without a browser, by polling the device grant.
- Revocations the provider could not be told about (offline): retried with
  back-off, the local delete having happened at once.

Failures are sorted (:class:`~.errors.Failure`): ``invalid_grant`` marks the
account ``reconnect_needed`` and tells the person once; transient ones back
off and are retried; nothing loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from atom_desktop.core.alert_kinds import AlertKind
from atom_desktop.core.events import EventBus, IntegrationChanged
from atom_desktop.core.ids import IdFactory
from atom_desktop.core.redaction import Redactor
from atom_desktop.diagnostics.alerts import Alerts
from atom_desktop.integrations.account_secrets import AccountSecrets
from atom_desktop.integrations.catalogue import Catalogue, Provider, load_catalogue
from atom_desktop.integrations.clients import ClientSettings
from atom_desktop.integrations.errors import Failure, FlowError, IntegrationError, retry_delay
from atom_desktop.integrations.flows import Flow, PendingFlows
from atom_desktop.integrations.health import (
    RequestAuth,
    check,
    needed_values,
    request_auth,
)
from atom_desktop.integrations.oauth import (
    ClientCredentials,
    DeviceAuthorization,
    Endpoints,
    OAuthClient,
    TokenSet,
)
from atom_desktop.integrations.revocations import Disconnected, Revoker
from atom_desktop.integrations.token_vault import TokenVault
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.integration_accounts import (
    AccountRecord,
    IntegrationAccountRepository,
    RevocationRecord,
)
from atom_desktop.store.service import StoreService

logger = logging.getLogger(__name__)

#: Refresh when the access token has less than this left.
REFRESH_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class IntegrationSettings:
    """How often the service looks after its accounts."""

    check_every_s: float = 24 * 3600.0
    housekeeping_every_s: float = 30.0
    part_chars: int | None = None  # keyring entry size limit (None: the backend's)


@dataclass(frozen=True, slots=True)
class Account:
    """An account as the API, the window and the command line show it."""

    id: str
    provider: str
    provider_name: str
    account: str
    status: str
    scopes: tuple[str, ...]
    parameters: Mapping[str, str]
    token_storage: str
    expires_at: datetime | None
    refreshed_at: datetime | None
    checked_at: datetime | None
    last_error: str | None
    created_at: datetime
    #: A sign-in (browser or device) of the account is under way.
    signing_in: bool = False


@dataclass(frozen=True, slots=True)
class DeviceSignIn:
    """What a person without a browser on this machine does to connect."""

    account: Account
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in_s: float


def _now() -> datetime:
    return datetime.now(UTC)


class IntegrationService:
    """Every integration account of one profile."""

    name = "integrations"

    def __init__(  # noqa: PLR0917 - the runtime wires each part by name
        self,
        store: StoreService,
        vault: KeyringVault,
        clients: ClientSettings,
        bus: EventBus,
        redactor: Redactor,
        ids: IdFactory,
        redirect_uri: Callable[[], str],
        *,
        alerts: Alerts,
        settings: IntegrationSettings | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._store = store
        self._alerts = alerts
        self._keyring = vault
        self.clients = clients
        self._bus = bus
        self._redactor = redactor
        self._ids = ids
        self._redirect_uri = redirect_uri
        self._settings = settings or IntegrationSettings()
        self.catalogue = catalogue or load_catalogue()
        self._repo: IntegrationAccountRepository | None = None
        self._secrets: AccountSecrets | None = None
        self._revoker_: Revoker | None = None
        self._http: httpx.AsyncClient | None = None
        self._accounts: dict[str, AccountRecord] = {}
        self._values: dict[str, dict[str, str]] = {}
        self._endpoints: dict[str, Endpoints] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._flows = PendingFlows()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._device_polls: dict[str, asyncio.Task[None]] = {}
        # Accounts whose callback came and whose code is being exchanged.
        self._completing: set[str] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: Token requests the service sent (refreshes by account): tests and the
        #: benchmark read it to see that concurrent callers shared one refresh.
        self.refresh_count = 0

    # -- lifecycle ----------------------------------------------------------------

    async def async_start(self) -> None:
        """Load the accounts; pending sign-ins from before a restart cannot finish."""
        self._repo = IntegrationAccountRepository(self._store.database, self._ids)
        vault = TokenVault(self._keyring, self._settings.part_chars)
        self._secrets = AccountSecrets(self._repo, vault, self._redactor)
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=True)
        self._revoker_ = Revoker(
            self._http, self._repo, self._secrets, self.clients, self.catalogue
        )
        for stored in await asyncio.to_thread(self._repo.all):
            account = stored
            if stored.status == "pending":
                account = await asyncio.to_thread(
                    self._repo.update,
                    stored.id,
                    status="error",
                    last_error="The sign-in was not finished before the agent stopped.",
                )
            self._accounts[account.id] = account
        self._housekeeper = asyncio.create_task(self._housekeeping(), name="integrations")

    async def async_stop(self) -> None:
        """Stop polling and checking; close the HTTP client."""
        tasks = [t for t in (self._housekeeper, *self._tasks, *self._device_polls.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._housekeeper = None
        self._tasks.clear()
        self._device_polls.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._repo = self._secrets = self._revoker_ = None
        self._accounts.clear()
        self._values.clear()

    @property
    def repo(self) -> IntegrationAccountRepository:
        """The accounts' rows (only while running)."""
        if self._repo is None:
            raise IntegrationError("The integration service is not running.")
        return self._repo

    @property
    def _vault(self) -> AccountSecrets:
        if self._secrets is None:
            raise IntegrationError("The integration service is not running.")
        return self._secrets

    @property
    def _revoker(self) -> Revoker:
        if self._revoker_ is None:
            raise IntegrationError("The integration service is not running.")
        return self._revoker_

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared HTTP client for requests to providers (only while running)."""
        if self._http is None:
            raise IntegrationError("The integration service is not running.")
        return self._http

    # -- reading --------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        """Every account, oldest first."""
        return [self._view(a) for a in self._accounts.values()]

    def account(self, account_id: str) -> Account:
        """One account; NotFoundError when there is none."""
        return self._view(self._record(account_id))

    def _record(self, account_id: str) -> AccountRecord:
        account = self._accounts.get(account_id)
        if account is None:
            raise NotFoundError(f"There is no integration with id {account_id!r}.")
        return account

    def _view(self, account: AccountRecord) -> Account:
        provider = (
            self.catalogue.get(account.provider) if account.provider in self.catalogue else None
        )
        return Account(
            id=account.id,
            provider=account.provider,
            provider_name=provider.name if provider else account.provider,
            account=account.account,
            status=account.status,
            scopes=account.scopes,
            parameters=account.parameters,
            token_storage=account.token_storage,
            expires_at=account.expires_at,
            refreshed_at=account.refreshed_at,
            checked_at=account.checked_at,
            last_error=account.last_error,
            created_at=account.created_at,
            signing_in=self._flows.has_account(account.id)
            or account.id in self._device_polls
            or account.id in self._completing,
        )

    def provider_of(self, account: AccountRecord) -> Provider:
        """The account's provider record, its parameters filled in."""
        try:
            return self.catalogue.get(account.provider).fill(account.parameters)
        except ValueError as exc:
            raise IntegrationError(f"Integration {account.id}: {exc}.") from None

    # -- connecting -------------------------------------------------------------------

    def _provider(self, provider_id: str, parameters: Mapping[str, str]) -> Provider:
        record = self.catalogue.get(provider_id)
        try:
            return record.fill(parameters)
        except ValueError as exc:
            raise IntegrationError(f"{exc}.", hint="Give it with the connect request.") from None

    def _oauth_provider(self, provider_id: str, parameters: Mapping[str, str]) -> Provider:
        provider = self._provider(provider_id, parameters)
        if not provider.is_oauth:
            raise IntegrationError(
                f"{provider.name} is connected with a key, not a sign-in.",
                hint=f"Use: atom-desktop integrations add-key {provider_id}",
            )
        return provider

    async def async_connect(
        self,
        provider_id: str,
        *,
        parameters: Mapping[str, str] | None = None,
        scopes: Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> tuple[Account, str]:
        """Start an OAuth sign-in: a pending account and the URL to open in a browser."""
        parameters = dict(parameters or {})
        provider = self._oauth_provider(provider_id, parameters)
        client = self.clients.credentials(
            provider, client_id=client_id, client_secret=client_secret
        )
        chosen = list(scopes) if scopes is not None else list(provider.scopes)
        oauth = OAuthClient(self.http, provider)
        endpoints = await oauth.endpoints()
        request = oauth.authorization(endpoints, client, self._redirect_uri(), chosen)
        account = await self._pending_account(
            provider_id, parameters, client, chosen, client_secret, endpoints
        )
        dropped = self._flows.add(account.id, request, endpoints, client)
        if dropped is not None:
            await self._fail_pending(dropped.account_id, "Too many sign-ins were started at once.")
        return self._view(account), request.url

    async def _pending_account(  # noqa: PLR0917 - what both kinds of sign-in start with
        self,
        provider_id: str,
        parameters: dict[str, str],
        client: ClientCredentials,
        scopes: list[str],
        client_secret: str | None,
        endpoints: Endpoints,
    ) -> AccountRecord:
        """The account a sign-in (browser or device) will complete, stored as pending."""
        account = await asyncio.to_thread(
            self.repo.create,
            account_id=self.repo.new_id(),
            provider=provider_id,
            parameters=parameters,
            client_id=client.client_id,
            scopes=scopes,
            token_storage=self._vault.storage(),
        )
        if client_secret:
            # A secret given with the request (not a setting) lives with the tokens.
            account = await asyncio.to_thread(
                self._vault.replace, account, {"client_secret": client_secret}
            )
            self._values[account.id] = {"client_secret": client_secret}
        self._endpoints[account.id] = endpoints
        self._remember(account)
        return account

    async def async_reconnect(self, account_id: str) -> str:
        """A new sign-in for an existing account; its tokens are replaced when it completes."""
        account = self._record(account_id)
        provider = self.provider_of(account)
        if not provider.is_oauth:
            raise IntegrationError(
                f"{provider.name} is connected with a key.",
                hint=f"Enter a new one with: atom-desktop integrations add-key {account.provider}",
            )
        client = await self._client_for(account, provider)
        oauth = OAuthClient(self.http, provider)
        endpoints = await oauth.endpoints()
        self._endpoints[account.id] = endpoints
        request = oauth.authorization(endpoints, client, self._redirect_uri(), list(account.scopes))
        self._flows.drop_account(account.id)
        self._flows.add(account.id, request, endpoints, client)
        return request.url

    async def async_complete(
        self,
        state: str,
        *,
        code: str | None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> Account:
        """The loopback callback: exchange the code (or record the refusal).

        FlowError for a ``state`` that is unknown, used or expired; then no
        account is touched. Any other failure leaves the account ``error``
        (or as it was, for a reconnect) with no new token stored.
        """
        flow = self._flows.take(state)
        self._completing.add(flow.account_id)
        try:
            return await self._complete(flow, code, error, error_description)
        finally:
            self._completing.discard(flow.account_id)

    async def _complete(
        self, flow: Flow, code: str | None, error: str | None, error_description: str | None
    ) -> Account:
        account = self._accounts.get(flow.account_id)
        if account is None:
            raise FlowError("The integration this sign-in was for has been removed.")
        provider = self.provider_of(account)
        if error or not code:
            said = (error or "no code") + (
                f": {error_description[:300]}" if error_description else ""
            )
            message = f"{provider.name} did not grant access ({said})."
            await self._sign_in_failed(account, message)
            raise FlowError(message, failure=Failure.DENIED)
        oauth = OAuthClient(self.http, provider)
        try:
            tokens = await oauth.exchange_code(flow.endpoints, flow.client, code, flow.request)
        except IntegrationError as exc:
            await self._sign_in_failed(account, exc.message)
            raise FlowError(exc.message, failure=exc.failure, hint=exc.hint) from None
        return await self._connected(account, provider, tokens)

    async def async_connect_device(
        self,
        provider_id: str,
        *,
        parameters: Mapping[str, str] | None = None,
        scopes: Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> DeviceSignIn:
        """RFC 8628 for agents without a browser: the code to enter, polled meanwhile."""
        parameters = dict(parameters or {})
        provider = self._oauth_provider(provider_id, parameters)
        client = self.clients.credentials(
            provider, client_id=client_id, client_secret=client_secret
        )
        chosen = list(scopes) if scopes is not None else list(provider.scopes)
        oauth = OAuthClient(self.http, provider)
        endpoints = await oauth.endpoints()
        device = await oauth.start_device(endpoints, client, chosen)
        account = await self._pending_account(
            provider_id, parameters, client, chosen, client_secret, endpoints
        )
        task = asyncio.create_task(
            self._poll_device(account, provider, oauth, endpoints, client, device),
            name=f"device-grant-{account.id}",
        )
        self._device_polls[account.id] = task
        task.add_done_callback(lambda _: self._device_polls.pop(account.id, None))
        remaining = max(0.0, device.expires_at - time.monotonic())
        return DeviceSignIn(
            self._view(account),
            device.user_code,
            device.verification_uri,
            device.verification_uri_complete,
            remaining,
        )

    async def _poll_device(  # noqa: PLR0917 - one task's whole context
        self,
        account: AccountRecord,
        provider: Provider,
        oauth: OAuthClient,
        endpoints: Endpoints,
        client: ClientCredentials,
        device: DeviceAuthorization,
    ) -> None:
        try:
            tokens = await oauth.poll_device(endpoints, client, device)
        except IntegrationError as exc:
            await self._sign_in_failed(account, exc.message)
            return
        current = self._accounts.get(account.id)
        if current is not None:
            await self._connected(current, provider, tokens)

    async def async_add_key(
        self,
        provider_id: str,
        values: Mapping[str, str],
        *,
        parameters: Mapping[str, str] | None = None,
    ) -> Account:
        """Connect a service with its own key scheme; the key is checked before it is kept.

        A key the service refuses is not stored. One that cannot be checked
        now (offline) is kept, with the reason in ``last_error``.
        """
        parameters = dict(parameters or {})
        provider = self._provider(provider_id, parameters)
        if provider.is_oauth:
            raise IntegrationError(
                f"{provider.name} is connected by signing in, not with a key.",
                hint=f"Use: atom-desktop integrations connect {provider_id}",
            )
        needed = needed_values(provider)
        secret = {name: str(values.get(name, "")).strip() for name in needed}
        missing = [name for name, value in secret.items() if not value]
        if missing:
            raise IntegrationError(f"{provider.name} needs: {', '.join(missing)}.")
        for value in secret.values():
            self._redactor.add(value)
        auth = request_auth(provider, secret)
        name, problem = await self._first_check(provider, auth)
        account = await asyncio.to_thread(
            self.repo.create,
            account_id=self.repo.new_id(),
            provider=provider_id,
            parameters=parameters,
            client_id=None,
            scopes=(),
            token_storage=self._vault.storage(),
            status="connected",
            account=name or "",
        )
        account = await asyncio.to_thread(
            self._vault.replace,
            account,
            secret,
            checked_at=_now() if problem is None else None,
            last_error=problem,
        )
        self._values[account.id] = dict(secret)
        self._remember(account)
        return self._view(account)

    async def _first_check(
        self, provider: Provider, auth: RequestAuth
    ) -> tuple[str | None, str | None]:
        if provider.whoami is None:
            return None, None
        try:
            result = await check(self.http, provider, auth)
        except IntegrationError as exc:
            if exc.failure is Failure.TRANSIENT:
                return None, f"Not checked yet: {exc.message}"
            raise IntegrationError(
                f"{exc.message} Nothing was stored.", failure=exc.failure, hint=exc.hint
            ) from None
        return result.account, None

    async def _connected(
        self, account: AccountRecord, provider: Provider, tokens: TokenSet
    ) -> Account:
        values = dict(self._values.get(account.id, {}))
        values.pop("access_token", None)
        values.pop("refresh_token", None)
        values.update(tokens.secret_values())
        scopes = tokens.scope if tokens.scope is not None else account.scopes
        updated = await asyncio.to_thread(
            self._vault.replace,
            account,
            values,
            status="connected",
            scopes=scopes,
            expires_at=tokens.expires_at,
            refreshed_at=_now(),
            retry_at=None,
            failures=0,
            last_error=None,
        )
        self._values[account.id] = values
        self._remember(updated)
        # The first check names the account; its failure is recorded, not raised.
        with contextlib.suppress(IntegrationError):
            await self.async_check(account.id)
        return self.account(account.id)

    async def _sign_in_failed(self, account: AccountRecord, message: str) -> None:
        current = self._accounts.get(account.id)
        if current is None:
            return
        # A reconnect that failed leaves the working account as it was.
        status = (
            current.status
            if current.secret_generation and self._values_have_token(current)
            else "error"
        )
        updated = await asyncio.to_thread(
            self.repo.update, account.id, status=status, last_error=message
        )
        self._remember(updated)

    def _values_have_token(self, account: AccountRecord) -> bool:
        values = self._values.get(account.id, {})
        return bool(values.get("access_token") or values.get("token"))

    async def _fail_pending(self, account_id: str, message: str) -> None:
        account = self._accounts.get(account_id)
        if account is not None and account.status == "pending":
            await self._sign_in_failed(account, message)

    # -- tokens -------------------------------------------------------------------------

    async def async_request_auth(self, account_id: str) -> RequestAuth:
        """What a request as this account carries, refreshed first if about to expire."""
        account = self._record(account_id)
        provider = self.provider_of(account)
        values = await self._fresh_values(account, provider)
        return request_auth(provider, values)

    async def async_access_token(self, account_id: str) -> str:
        """A valid access token (or key) of the account."""
        account = self._record(account_id)
        values = await self._fresh_values(account, self.provider_of(account))
        token = values.get("access_token") or values.get("token")
        if not token:
            raise IntegrationError(f"Integration {account_id} has no token.")
        return token

    def _needs_refresh(self, account: AccountRecord) -> bool:
        if account.expires_at is None:
            return False
        return account.expires_at - _now() <= timedelta(seconds=REFRESH_MARGIN_S)

    async def _values_of(self, account: AccountRecord) -> dict[str, str]:
        values = self._values.get(account.id)
        if values is None:
            values = await asyncio.to_thread(self._vault.read, account)
            self._values[account.id] = values
        return values

    async def _fresh_values(self, account: AccountRecord, provider: Provider) -> dict[str, str]:
        self._usable(account, provider)
        if not self._needs_refresh(account) and account.id in self._values:
            return self._values[account.id]  # the common case: no I/O, no lock
        lock = self._locks.setdefault(account.id, asyncio.Lock())
        async with lock:
            # Whoever held the lock may have refreshed meanwhile.
            account = self._record(account.id)
            self._usable(account, provider)
            values = await self._values_of(account)
            if self._needs_refresh(account):
                values = await self._refresh_locked(account, provider, values)
            return values

    def _usable(self, account: AccountRecord, provider: Provider) -> None:
        if account.status == "reconnect_needed":
            raise IntegrationError(
                f"The {provider.name} integration {account.account or account.id} needs to be "
                "reconnected.",
                failure=Failure.RECONNECT,
                hint=account.last_error,
            )
        if account.status == "pending":
            raise IntegrationError(
                f"The {provider.name} integration {account.id} is not connected yet.",
                hint="Finish signing in, or connect it again.",
            )
        if account.secret_generation == 0:
            raise IntegrationError(
                f"The {provider.name} integration {account.id} has no credentials.",
                hint=account.last_error or "Connect it again.",
            )

    async def async_refresh(self, account_id: str) -> Account:
        """Refresh the account's tokens now (whatever their expiry)."""
        account = self._record(account_id)
        provider = self.provider_of(account)
        if not provider.is_oauth:
            raise IntegrationError(f"{provider.name} keys are not refreshed; nothing to do.")
        lock = self._locks.setdefault(account.id, asyncio.Lock())
        async with lock:
            account = self._record(account_id)
            self._usable(account, provider)
            values = await self._values_of(account)
            await self._refresh_locked(account, provider, values, forced=True)
        return self.account(account_id)

    async def _refresh_locked(
        self,
        account: AccountRecord,
        provider: Provider,
        values: dict[str, str],
        *,
        forced: bool = False,
    ) -> dict[str, str]:
        """Refresh under the account's lock; returns the values to use."""
        refresh_token = values.get("refresh_token")
        still_valid = account.expires_at is not None and account.expires_at > _now()
        if not refresh_token:
            if still_valid and not forced:
                return values
            await self._needs_reconnect(
                account,
                provider,
                f"{provider.name} gave no refresh token and the access token expired.",
            )
            self._usable(self._record(account.id), provider)
        if account.retry_at is not None and _now() < account.retry_at and not forced:
            if still_valid:
                return values
            raise IntegrationError(
                f"Refreshing the {provider.name} token failed; the next try is at "
                f"{account.retry_at:%H:%M:%S} UTC.",
                failure=Failure.TRANSIENT,
                hint=account.last_error,
            )
        assert refresh_token is not None
        oauth = OAuthClient(self.http, provider)
        try:
            client = await self._client_for(account, provider)
            endpoints = await self._endpoints_for(account, oauth)
            self.refresh_count += 1
            tokens = await oauth.refresh(endpoints, client, refresh_token)
        except IntegrationError as exc:
            await self._refresh_failed(account, provider, exc)
            if exc.failure is Failure.TRANSIENT and still_valid and not forced:
                return values
            raise
        new_values = {**values, **tokens.secret_values()}
        # Saved before anything else happens: a rotated refresh token is the
        # only one the provider still accepts.
        updated = await asyncio.to_thread(
            self._vault.replace,
            account,
            new_values,
            status="connected",
            expires_at=tokens.expires_at,
            refreshed_at=_now(),
            retry_at=None,
            failures=0,
            last_error=None,
            **({"scopes": tokens.scope} if tokens.scope is not None else {}),
        )
        self._values[account.id] = new_values
        self._remember(updated)
        return new_values

    async def _refresh_failed(
        self, account: AccountRecord, provider: Provider, exc: IntegrationError
    ) -> None:
        if exc.failure is Failure.RECONNECT:
            await self._needs_reconnect(account, provider, exc.message)
            return
        if exc.failure is Failure.TRANSIENT:
            failures = account.failures + 1
            updated = await asyncio.to_thread(
                self.repo.update,
                account.id,
                failures=failures,
                retry_at=_now() + retry_delay(failures),
                last_error=exc.message,
            )
        else:
            updated = await asyncio.to_thread(
                self.repo.update, account.id, status="error", last_error=exc.message
            )
        self._remember(updated)

    async def _needs_reconnect(
        self, account: AccountRecord, provider: Provider, message: str
    ) -> None:
        """Mark the account; the person is told once, when the status changes."""
        was = self._record(account.id).status
        updated = await asyncio.to_thread(
            self.repo.update, account.id, status="reconnect_needed", last_error=message
        )
        self._remember(updated)
        if was != "reconnect_needed":
            logger.warning(
                "Integration %s (%s) needs to be reconnected: %s",
                account.id,
                provider.name,
                message,
            )
            self._alerts.raise_alert(
                AlertKind.INTEGRATION_RECONNECT,
                account.id,
                f"Reconnect {provider.name}",
                f"{provider.name} ({account.account or account.id}) no longer accepts "
                "the agent's access. Reconnect it on the Integrations page.",
            )

    async def _client_for(self, account: AccountRecord, provider: Provider) -> ClientCredentials:
        values = await self._values_of(account)
        secret = values.get("client_secret")
        if secret:
            return ClientCredentials(account.client_id or "", secret, provider.token_endpoint_auth)
        if account.client_id and account.client_id != self.clients.client_id(provider.id):
            # Tokens belong to the client that got them (the generic provider's
            # own client, given when connecting): refresh and revoke as that one.
            return ClientCredentials(account.client_id, None, "none")
        return self.clients.credentials(provider)

    async def _endpoints_for(self, account: AccountRecord, oauth: OAuthClient) -> Endpoints:
        endpoints = self._endpoints.get(account.id)
        if endpoints is None:
            endpoints = await oauth.endpoints()
            self._endpoints[account.id] = endpoints
        return endpoints

    # -- checking -------------------------------------------------------------------------

    async def async_check(self, account_id: str) -> Account:
        """Send the account's "who am I" request and record the outcome.

        IntegrationError when it fails (recorded too).
        """
        account = self._record(account_id)
        provider = self.provider_of(account)
        try:
            values = await self._fresh_values(account, provider)
            userinfo = None
            if provider.is_oauth and provider.whoami is None:
                userinfo = (
                    await self._endpoints_for(account, OAuthClient(self.http, provider))
                ).userinfo
            result = await check(
                self.http, provider, request_auth(provider, values), userinfo_url=userinfo
            )
        except IntegrationError as exc:
            await self._check_failed(self._record(account_id), provider, exc)
            raise
        changes: dict[str, Any] = {"checked_at": _now(), "last_error": None}
        if result.account:
            changes["account"] = result.account
        if self._record(account_id).status == "error":
            changes["status"] = "connected"
        updated = await asyncio.to_thread(self.repo.update, account_id, **changes)
        self._remember(updated)
        return self._view(updated)

    async def _check_failed(
        self, account: AccountRecord, provider: Provider, exc: IntegrationError
    ) -> None:
        if account.status == "reconnect_needed":
            return  # already said
        if exc.failure is Failure.RECONNECT and provider.is_oauth:
            await self._needs_reconnect(account, provider, exc.message)
            return
        status = "error" if exc.failure is not Failure.TRANSIENT else account.status
        updated = await asyncio.to_thread(
            self.repo.update, account.id, checked_at=_now(), status=status, last_error=exc.message
        )
        self._remember(updated)

    # -- disconnecting ----------------------------------------------------------------------

    async def async_disconnect(self, account_id: str) -> Disconnected:
        """Revoke at the provider (or owe it, offline) and delete the account and its secrets."""
        account = self._record(account_id)
        self._flows.drop_account(account_id)
        poll = self._device_polls.pop(account_id, None)
        if poll is not None:
            poll.cancel()
        provider = (
            self.catalogue.get(account.provider) if account.provider in self.catalogue else None
        )
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        async with lock:
            outcome, owed = await self._revoke(account, provider)
            await asyncio.to_thread(self.repo.replace_with_revocation, account_id, owed)
            await asyncio.to_thread(self._vault.remove, account)
        self._locks.pop(account_id, None)
        self._accounts.pop(account_id, None)
        self._values.pop(account_id, None)
        self._endpoints.pop(account_id, None)
        self._bus.publish(IntegrationChanged(account_id, account.provider, "removed"))
        return outcome

    async def _revoke(
        self, account: AccountRecord, record: Provider | None
    ) -> tuple[Disconnected, RevocationRecord | None]:
        if record is None or not record.is_oauth or account.secret_generation == 0:
            return Disconnected(False, False, "Removed from this device."), None
        try:
            values = await self._values_of(account)
        except SecretsError as exc:
            message = f"Removed; its tokens were unreadable ({exc.message})."
            return Disconnected(False, False, message), None
        provider = self.provider_of(account)
        oauth = OAuthClient(self.http, provider)
        try:
            client = await self._client_for(account, provider)
            endpoints = await self._endpoints_for(account, oauth)
        except IntegrationError as exc:
            if exc.failure is not Failure.TRANSIENT:
                return Disconnected(False, False, f"Removed; {exc.message}"), None
            client, endpoints = None, None
        return await self._revoker.revoke(account, provider, values, client, endpoints)

    async def async_retry_revocations(self) -> int:
        """Try the owed revocations that are due; returns how many are done."""
        return await self._revoker.retry_due()

    # -- housekeeping ---------------------------------------------------------------------

    def wake(self) -> None:
        """Run housekeeping now (tests, and the window's "check all")."""
        self._wake.set()

    async def _housekeeping(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.housekeeping_every_s)
            self._wake.clear()
            try:
                await self._housekeep_once()
            except Exception:
                logger.exception("Integration housekeeping failed; it runs again later")

    async def _housekeep_once(self) -> None:
        for account_id in self._flows.expired_accounts():
            await self._fail_pending(account_id, "The sign-in was not finished within 10 minutes.")
        await self.async_retry_revocations()
        due = _now() - timedelta(seconds=self._settings.check_every_s)
        for account in list(self._accounts.values()):
            if account.status not in ("connected", "error") or account.secret_generation == 0:
                continue
            if account.checked_at is not None and account.checked_at > due:
                continue
            with contextlib.suppress(IntegrationError, SecretsError, NotFoundError):
                await self.async_check(account.id)

    # -- events --------------------------------------------------------------------------

    def _remember(self, account: AccountRecord) -> None:
        before = self._accounts.get(account.id)
        self._accounts[account.id] = account
        if before is None or (
            before.status,
            before.last_error,
            before.account,
            before.checked_at,
        ) != (
            account.status,
            account.last_error,
            account.account,
            account.checked_at,
        ):
            self._bus.publish(
                IntegrationChanged(account.id, account.provider, account.status, account.last_error)
            )
