"""OAuth 2.0 on the wire: discovery, the authorization URL, the token requests.

authlib builds the protocol's messages (the authorization URL, token and
revocation request bodies, the PKCE S256 challenge) and httpx sends them.
authlib's own httpx client is not used: in authlib 1.9 it is deprecated in
favour of a separate ``httpx2`` package, and it warns on import.

Every answer is checked before it is believed: a discovery document must name
the issuer it was fetched for and https endpoints; a token answer must hold a
bearer access token. Failures are sorted (:class:`~.errors.Failure`) so the
caller knows whether to ask the person to reconnect, to retry later, or to
report a setting to fix; provider messages are kept short and never hold a
token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_qs
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from atom_desktop.integrations.catalogue import Provider, check_issuer
from atom_desktop.integrations.errors import Failure, IntegrationError

#: Each request to a provider ends within this.
REQUEST_TIMEOUT_S = 20.0
#: Characters of a provider's error description kept in a message.
_DESCRIPTION_CHARS = 300
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: RFC 6749: the errors that mean the grant itself is gone.
_RECONNECT_ERRORS = frozenset({"invalid_grant"})
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where a provider's OAuth endpoints are (from its record or discovery)."""

    token: str
    authorize: str | None = None
    revoke: str | None = None
    device: str | None = None
    issuer: str | None = None
    userinfo: str | None = None


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """The OAuth client the agent acts as for one provider."""

    client_id: str
    client_secret: str | None = None
    #: How the secret is sent: in the body (``client_secret_post``) or as basic auth.
    method: str = "client_secret_post"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint handed out."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the type's name, no secret
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scope: tuple[str, ...] | None = None

    def secret_values(self) -> dict[str, str]:
        """The values to keep in the keyring."""
        values = {"access_token": self.access_token, "token_type": self.token_type}
        if self.refresh_token:
            values["refresh_token"] = self.refresh_token
        return values


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A started sign-in: the URL to open and what the callback must match."""

    url: str
    state: str
    code_verifier: str | None
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """RFC 8628: what the person types where, and how the agent polls."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float  # time.monotonic()
    interval_s: float


def _short(text: object) -> str:
    shown = str(text).strip().replace("\n", " ")
    return shown[:_DESCRIPTION_CHARS] + ("..." if len(shown) > _DESCRIPTION_CHARS else "")


def _checked_url(value: object, name: str, *, loopback_ok: bool) -> str:
    if not isinstance(value, str) or not value:
        raise IntegrationError(
            f"The provider's {name} is not an address.", failure=Failure.PROTOCOL
        )
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if (
        loopback_ok
        and parts.scheme == "http"
        and parts.hostname in ("127.0.0.1", "localhost", "::1")
    ):
        return value
    raise IntegrationError(
        f"The provider's {name} {value!r} is not an https:// address; refusing to send it secrets.",
        failure=Failure.PROTOCOL,
    )


class OAuthClient:
    """Sends OAuth requests for one provider with one shared httpx client."""

    def __init__(self, http: httpx.AsyncClient, provider: Provider) -> None:
        """``provider``: the record with its parameters filled in."""
        self._http = http
        self._provider = provider
        # Only a local identity provider may be reached over plain http.
        self._loopback_ok = provider.id == "oidc"

    async def endpoints(self) -> Endpoints:
        """The provider's endpoints: its discovery document's, or its record's."""
        provider = self._provider
        if provider.discovery is None:
            assert provider.token_url is not None  # the record's validator ensures it
            return Endpoints(
                token=provider.token_url,
                authorize=provider.authorize_url,
                revoke=provider.revoke_url,
                device=provider.device_authorization_url,
            )
        document = await self._get_json(provider.discovery, "discovery document")
        issuer = document.get("issuer")
        expected = provider.discovery.removesuffix("/.well-known/openid-configuration")
        # OpenID Connect Discovery 4.3: the issuer must be the one asked for,
        # or a look-alike document could send the person's grant elsewhere.
        if issuer != expected and not provider.discovery.startswith(f"{issuer}/.well-known/"):
            raise IntegrationError(
                f"The discovery document at {provider.discovery} names the issuer "
                f"{_short(issuer)!r}, not {expected!r}.",
                failure=Failure.PROTOCOL,
            )
        loop = self._loopback_ok

        def optional(key: str, fallback: str | None) -> str | None:
            value = document.get(key)
            return _checked_url(value, key, loopback_ok=loop) if value else fallback

        return Endpoints(
            token=_checked_url(document.get("token_endpoint"), "token endpoint", loopback_ok=loop),
            authorize=optional("authorization_endpoint", provider.authorize_url),
            revoke=optional("revocation_endpoint", provider.revoke_url),
            device=optional("device_authorization_endpoint", provider.device_authorization_url),
            issuer=issuer if isinstance(issuer, str) else None,
            userinfo=optional("userinfo_endpoint", None),
        )

    def authorization(
        self, endpoints: Endpoints, client: ClientCredentials, redirect_uri: str, scopes: list[str]
    ) -> AuthorizationRequest:
        """A new authorization request: fresh ``state`` and PKCE verifier, the URL to open."""
        if endpoints.authorize is None:
            raise IntegrationError(
                f"{self._provider.name} has no authorization endpoint.", failure=Failure.PROTOCOL
            )
        state = generate_token(43)
        params: dict[str, Any] = dict(self._provider.authorize_params)
        verifier = None
        if self._provider.pkce:
            verifier = generate_token(64)
            params["code_challenge"] = create_s256_code_challenge(verifier)
            params["code_challenge_method"] = "S256"
        url = prepare_grant_uri(
            endpoints.authorize,
            client.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=self._provider.scope_separator.join(scopes) or None,
            state=state,
            **params,
        )
        return AuthorizationRequest(url, state, verifier, redirect_uri)

    async def exchange_code(
        self,
        endpoints: Endpoints,
        client: ClientCredentials,
        code: str,
        request: AuthorizationRequest,
    ) -> TokenSet:
        """The tokens for an authorization code (with the flow's PKCE verifier)."""
        body = prepare_token_request(
            "authorization_code",
            redirect_uri=request.redirect_uri,
            code=code,
            code_verifier=request.code_verifier,
            **self._provider.token_params,
        )
        return await self._token_request(endpoints.token, client, body)

    async def refresh(
        self, endpoints: Endpoints, client: ClientCredentials, refresh_token: str
    ) -> TokenSet:
        """New tokens for a refresh token; the old refresh token is kept if none comes back."""
        body = prepare_token_request("refresh_token", refresh_token=refresh_token)
        url = self._provider.refresh_url or endpoints.token
        tokens = await self._token_request(url, client, body)
        if tokens.refresh_token is None:
            # RFC 6749 6: a provider that does not rotate leaves the old one valid.
            tokens = TokenSet(
                tokens.access_token,
                tokens.token_type,
                refresh_token,
                tokens.expires_at,
                tokens.scope,
            )
        return tokens

    async def revoke(
        self, revoke_url: str, client: ClientCredentials, token: str, hint: str | None
    ) -> None:
        """RFC 7009: revoke ``token``; a provider that already forgot it says 200 too."""
        body, headers = prepare_revoke_token_request(token, hint)
        body, headers = self._client_auth(client, body, headers)
        response = await self._send("POST", revoke_url, "revocation", content=body, headers=headers)
        if response.status_code != 200:
            raise self._failure(response, "revoking the token")

    async def start_device(
        self, endpoints: Endpoints, client: ClientCredentials, scopes: list[str]
    ) -> DeviceAuthorization:
        """RFC 8628 3.1: ask for a device code and the code the person types."""
        if endpoints.device is None:
            raise IntegrationError(
                f"{self._provider.name} does not offer sign-in with a device code.",
                hint="Connect it from a machine with a browser instead.",
            )
        params = [("scope", self._provider.scope_separator.join(scopes))] if scopes else []
        body, headers = self._client_auth(client, add_params_to_qs("", params), {})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self._send(
            "POST", endpoints.device, "device authorization", content=body, headers=headers
        )
        data = self._json(response, "device authorization")
        if response.status_code != 200:
            raise self._failure(response, "asking for a device code")
        try:
            interval = float(data.get("interval", 5))
            expires_in = float(data["expires_in"])
            device = DeviceAuthorization(
                device_code=str(data["device_code"]),
                user_code=str(data["user_code"]),
                verification_uri=_checked_url(
                    data.get("verification_uri") or data.get("verification_url"),
                    "verification address",
                    loopback_ok=self._loopback_ok,
                ),
                verification_uri_complete=data.get("verification_uri_complete"),
                expires_at=time.monotonic() + expires_in,
                interval_s=max(1.0, interval),
            )
        except (KeyError, TypeError, ValueError):
            raise IntegrationError(
                "The provider's device authorization answer is incomplete.",
                failure=Failure.PROTOCOL,
            ) from None
        return device

    async def poll_device(
        self, endpoints: Endpoints, client: ClientCredentials, device: DeviceAuthorization
    ) -> TokenSet:
        """RFC 8628 3.4-3.5: poll until the person approves, denies or the code expires."""
        interval = device.interval_s
        while True:
            if time.monotonic() >= device.expires_at:
                raise IntegrationError(
                    "The device code expired before it was approved.",
                    failure=Failure.DENIED,
                    hint="Start again and enter the code within its time.",
                )
            await asyncio.sleep(interval)
            body = prepare_token_request(_DEVICE_GRANT, device_code=device.device_code)
            try:
                return await self._token_request(endpoints.token, client, body)
            except _PendingError as pending:
                if pending.slow_down:
                    interval += 5  # RFC 8628 3.5

    def credential_headers(self, client: ClientCredentials) -> dict[str, str]:
        """Basic auth for a client that authenticates so (else nothing)."""
        if client.client_secret and client.method == "client_secret_basic":
            pair = f"{client.client_id}:{client.client_secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    # -- the requests -----------------------------------------------------------

    def _client_auth(
        self, client: ClientCredentials, body: str, headers: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        basic = self.credential_headers(client)
        if basic:
            # RFC 6749 2.3.1: a client authenticates one way only.
            return body, {**headers, **basic}
        params = [("client_id", client.client_id)]
        if client.client_secret and client.method == "client_secret_post":
            params.append(("client_secret", client.client_secret))
        return add_params_to_qs(body, params), headers

    async def _token_request(
        self, token_url: str, client: ClientCredentials, body: str
    ) -> TokenSet:
        body, headers = self._client_auth(client, body, {})
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self._send("POST", token_url, "token", content=body, headers=headers)
        data = self._json(response, "token")
        if response.status_code != 200:
            error = data.get("error") if isinstance(data, dict) else None
            if error in ("authorization_pending", "slow_down"):
                raise _PendingError(slow_down=error == "slow_down")
            raise self._failure(response, "getting a token", data)
        return self._token_set(data)

    def _token_set(self, data: Mapping[str, Any]) -> TokenSet:
        access = data.get("access_token")
        token_type = str(data.get("token_type") or "Bearer")
        if not isinstance(access, str) or not access:
            raise IntegrationError(
                "The provider's token answer holds no access token.", failure=Failure.PROTOCOL
            )
        if token_type.lower() != "bearer":
            raise IntegrationError(
                f"The provider handed out a {token_type!r} token; "
                "only bearer tokens are supported.",
                failure=Failure.PROTOCOL,
            )
        expires_at = None
        expires_in = data.get("expires_in")
        if expires_in is not None:
            try:
                expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in))
            except (TypeError, ValueError):
                raise IntegrationError(
                    f"The provider's expires_in {_short(expires_in)!r} is not a number.",
                    failure=Failure.PROTOCOL,
                ) from None
        refresh = data.get("refresh_token")
        scope = data.get("scope")
        return TokenSet(
            access_token=access,
            token_type="Bearer",  # noqa: S106 - the type's name, no secret
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=expires_at,
            scope=tuple(scope.replace(",", " ").split()) if isinstance(scope, str) else None,
        )

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        response = await self._send("GET", url, what)
        data = self._json(response, what)
        if response.status_code != 200:
            raise self._failure(response, f"reading the {what}", data)
        return data

    async def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        try:
            return await self._http.request(
                method, url, headers=headers, timeout=REQUEST_TIMEOUT_S, **kwargs
            )
        except httpx.TimeoutException:
            raise IntegrationError(
                f"{self._provider.name} did not answer the {what} request within "
                f"{REQUEST_TIMEOUT_S:.0f} s.",
                failure=Failure.TRANSIENT,
            ) from None
        except httpx.HTTPError as exc:
            host = urlsplit(url).netloc
            reason = _short(exc) or type(exc).__name__
            raise IntegrationError(
                f"Could not reach {self._provider.name} at {host}: {reason}.",
                failure=Failure.TRANSIENT,
                hint="Check the network connection; the agent tries again later.",
            ) from None

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
        if response.status_code == 200:
            raise IntegrationError(
                f"The provider's {what} answer is not a JSON object.", failure=Failure.PROTOCOL
            )
        return {}

    def _failure(
        self, response: httpx.Response, doing: str, data: Mapping[str, Any] | None = None
    ) -> IntegrationError:
        data = data if data is not None else self._json(response, doing)
        error = data.get("error")
        description = data.get("error_description")
        said = f"{error}" + (f": {_short(description)}" if description else "") if error else ""
        name = self._provider.name
        status = response.status_code
        if error in _RECONNECT_ERRORS:
            return IntegrationError(
                f"{name} no longer accepts this connection ({said}).",
                failure=Failure.RECONNECT,
                hint="Reconnect the integration.",
            )
        detail = f"HTTP {status}" + (f", {said}" if said else "")
        if status in _TRANSIENT_STATUSES or status >= 500:
            return IntegrationError(
                f"{name} could not answer while {doing} ({detail}).",
                failure=Failure.TRANSIENT,
            )
        if error == "access_denied":
            return IntegrationError(f"{name} refused access ({said}).", failure=Failure.DENIED)
        return IntegrationError(
            f"{name} refused {doing} ({detail}).",
            failure=Failure.REFUSED,
            hint="Check the integration's client id and secret in the settings.",
        )


class _PendingError(Exception):
    """The device code is not approved yet (or the agent must poll slower)."""

    def __init__(self, *, slow_down: bool) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


def issuer_for(provider: Provider, values: Mapping[str, str]) -> str | None:
    """The checked issuer of a generic OpenID Connect account, else None."""
    issuer = values.get("issuer")
    return check_issuer(issuer) if issuer and provider.id == "oidc" else None
