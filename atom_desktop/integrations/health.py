"""Using an account's credential: the header (or path) a request carries, and the
cheap "who am I" request that proves it works."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from atom_desktop.integrations.catalogue import AuthKind, Provider
from atom_desktop.integrations.errors import Failure, IntegrationError

CHECK_TIMEOUT_S = 20.0
_ACCOUNT_CHARS = 200


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """What a request to the service carries: headers, or a prefix to its path."""

    headers: Mapping[str, str]
    path_prefix: str = ""
    #: The secret values in it (to be masked wherever a service echoes them).
    secret_values: tuple[str, ...] = ()

    def url(self, url: str) -> str:
        """``url`` with the credential's path prefix (Telegram's ``/bot<token>``)."""
        if not self.path_prefix:
            return url
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=self.path_prefix + parts.path))


def needed_values(provider: Provider) -> tuple[str, ...]:
    """The secret values a person enters for a non-OAuth provider."""
    if provider.auth is AuthKind.KEY_SECRET:
        return ("key", "secret")
    return ("token",)


def request_auth(provider: Provider, values: Mapping[str, str]) -> RequestAuth:
    """The credential of ``values`` placed as the provider's record says."""
    token = values.get("access_token") or values.get("token") or ""
    key, secret = values.get("key", ""), values.get("secret", "")
    fixed_password = provider.credential.basic_password
    if fixed_password is not None:
        # A single key as basic auth's user name (Freshdesk: key, then "X").
        key, secret = token, fixed_password
    fields = {
        "token": token,
        "key": key,
        "secret": secret,
        "basic": base64.b64encode(f"{key}:{secret}".encode()).decode() if key else "",
    }
    template = provider.credential.value
    used = {name for name in fields if "{" + name + "}" in template}
    if "basic" in used:
        used |= {"key", "secret"}  # basic auth needs both halves
    if any(not fields[name] for name in used):
        raise IntegrationError(
            f"The stored credential of this {provider.name} account is incomplete.",
            hint="Reconnect it or enter the key again.",
        )
    value = template.format_map(fields)
    if any(ch in value for ch in "\r\n"):
        raise IntegrationError(f"The {provider.name} credential holds a line break.")
    fixed = dict(provider.headers)
    secrets = tuple(v for v in (token, key, secret, fields["basic"], value) if len(v) >= 8)
    if provider.credential.place == "path":
        return RequestAuth(fixed, value, secrets)
    return RequestAuth({**fixed, provider.credential.header: value}, "", secrets)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the "who am I" request said."""

    account: str | None  # the account's name, when the answer names it


def account_name(data: Any, path: str) -> str | None:
    """The value at the dotted ``path`` (numbers index lists) of a JSON answer."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()[:_ACCOUNT_CHARS]
    return None


async def check(
    http: httpx.AsyncClient,
    provider: Provider,
    auth: RequestAuth,
    *,
    userinfo_url: str | None = None,
) -> CheckResult:
    """Send the provider's cheap request; IntegrationError (sorted) when it fails."""
    whoami = provider.whoami
    if whoami is not None:
        method, url, path, body = whoami.method, whoami.url, whoami.account, whoami.body
    elif userinfo_url is not None:
        # OpenID Connect's userinfo names the person (Core 5.3).
        method, url, path, body = "GET", userinfo_url, "", ""
    else:
        raise IntegrationError(
            f"{provider.name} has no request to check an account with.", failure=Failure.REFUSED
        )
    headers = {"Accept": "application/json", **auth.headers}
    if body:
        headers["Content-Type"] = "application/json"
    try:
        response = await http.request(
            method,
            auth.url(url),
            headers=headers,
            content=body.encode() if body else None,
            timeout=CHECK_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise IntegrationError(
            f"Could not reach {provider.name} to check the account ({type(exc).__name__}).",
            failure=Failure.TRANSIENT,
        ) from None
    status = response.status_code
    if status in (401, 403):
        raise IntegrationError(
            f"{provider.name} refused the account's credential (HTTP {status}).",
            failure=Failure.RECONNECT,
            hint="Reconnect it, or enter a new key.",
        )
    if status == 429 or status >= 500:
        raise IntegrationError(
            f"{provider.name} could not answer the check (HTTP {status}).",
            failure=Failure.TRANSIENT,
        )
    if not 200 <= status < 300:
        raise IntegrationError(
            f"{provider.name} answered the check with HTTP {status}.", failure=Failure.REFUSED
        )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if path:
        return CheckResult(account_name(data, path))
    for claim in ("preferred_username", "email", "name", "sub"):
        name = account_name(data, claim)
        if name:
            return CheckResult(name)
    return CheckResult(None)
