"""The provider catalogue: every service the agent can connect to, as data.

The records live in ``providers.toml`` beside this module, one table per
provider; this module only says what a record may hold and checks it. Adding
a service is adding a table, never code.

A record is honest about how the service authenticates:

- ``oauth2``: the OAuth 2.0 authorization code grant (with PKCE S256 where
  ``pkce`` says the service supports it), through the agent's loopback
  callback; tokens refreshed and revoked as the record's endpoints allow.
- ``api_key``, ``bot_token``, ``key_secret``, ``user_token``: the service's own
  scheme; the person pastes the credential once (window or
  ``atom-desktop integrations add-key``), and ``credential`` says how a request
  carries it.

URLs may name per-account values in braces (``https://{subdomain}.zendesk.com``);
``parameters`` lists them, and the person gives them when connecting. Every
URL is https, but for the generic ``oidc`` provider's issuer, which may be a
loopback identity provider.
"""

from __future__ import annotations

import enum
import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from atom_desktop.core.errors import ConfigError

#: The data file of records, in this package.
CATALOGUE_FILE = "providers.toml"
#: The generic OpenID Connect provider: any issuer the person names.
GENERIC_OIDC = "oidc"
_SLUG = re.compile(r"[a-z][a-z0-9_]{1,39}")


class Category(enum.StrEnum):
    """Where a service is listed in the catalogue."""

    PROJECTS = "projects"
    MESSAGING = "messaging"
    FILES = "files"
    CUSTOMERS = "customers"
    DEVELOPMENT = "development"
    COMMERCE = "commerce"
    VOICE = "voice"
    IDENTITY = "identity"


class AuthKind(enum.StrEnum):
    """How a service lets the agent act for a person."""

    OAUTH2 = "oauth2"  # authorization code (+ PKCE where supported), refresh, revoke
    API_KEY = "api_key"  # a long-lived key made in the service's console
    # The values name kinds of credential, not secrets (hence the noqa).
    # A bot's or app's token (Telegram, Discord, Messenger).
    BOT_TOKEN = "bot_token"  # noqa: S105
    # An id and a secret together (Twilio: SID + auth token).
    KEY_SECRET = "key_secret"  # noqa: S105
    # A person's own access token (Matrix, Jira's API tokens).
    USER_TOKEN = "user_token"  # noqa: S105


def template_fields(text: str) -> set[str]:
    """The ``{name}`` placeholders in ``text``."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _https_url(value: str) -> str:
    if value.startswith("{"):
        return value  # its origin is a parameter: checked once filled in (Provider.fill)
    parts = urlsplit(value.replace("{", "").replace("}", ""))
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{value!r} must be an https:// address")
    return value


#: A parameter that is part of a host name (``subdomain``, ``shop``): no
#: character that could end the host and point the URL elsewhere.
_HOST_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_issuer(issuer: str) -> str:
    """An OpenID Connect issuer URL, without a trailing slash.

    https, or http on a loopback host (a local identity provider); no
    credentials, query or fragment. ValueError says what is wrong.
    """
    text = issuer.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"{issuer!r} must be a plain URL (no user, query or fragment)")
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return text
    raise ValueError(
        f"{issuer!r} must be an https:// URL (http:// only for 127.0.0.1 or localhost)"
    )


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WhoAmI(_Record):
    """A cheap request that proves the credential works and names the account."""

    url: HttpsUrl
    method: Literal["GET", "POST"] = "GET"
    #: Dotted path into the JSON answer for the account's name (``user.login``);
    #: a segment that is a number picks that item of a list (``projects.0.name``);
    #: empty when the answer names no one (the check then only proves access).
    account: str = ""
    #: A JSON body for services whose "who am I" is a POST (GraphQL, RPC).
    body: str = ""


class Credential(_Record):
    """How a request carries the credential: one header, or the start of the path.

    ``{token}`` is the access token or key; ``{key}`` and ``{secret}`` the two
    halves of a ``key_secret``; ``{basic}`` is ``key:secret`` in base64. With
    ``place = "path"``, ``value`` is put before the request's path (Telegram's
    ``/bot{token}``), so the address a step names holds no secret.
    """

    place: Literal["header", "path"] = "header"
    header: str = "Authorization"
    value: str = "Bearer {token}"
    #: Some services take a single key as the user name of HTTP basic auth,
    #: with a fixed password (Freshdesk: the key, then "X"). For such a
    #: record ``{basic}`` is ``token:basic_password`` in base64; ``None``
    #: (the default) keeps ``{basic}`` to the two halves of a ``key_secret``.
    basic_password: str | None = None

    @field_validator("value")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        unknown = template_fields(value) - {"token", "key", "secret", "basic"}
        if unknown:
            raise ValueError(f"unknown placeholder(s) {sorted(unknown)}")
        return value


class Provider(_Record):
    """One service: who it is, how it authenticates, how to check it works."""

    id: str
    name: str = Field(min_length=1)
    category: Category
    auth: AuthKind
    docs: HttpsUrl
    #: Values each account supplies, named in the URLs (``subdomain``, ``shop``).
    parameters: tuple[str, ...] = ()
    # OAuth 2.0 (auth = oauth2); discovery replaces the three endpoints.
    discovery: HttpsUrl | None = None
    authorize_url: HttpsUrl | None = None
    token_url: HttpsUrl | None = None
    #: Only where the service refreshes at another address than ``token_url``
    #: (Figma's ``/v1/oauth/refresh``); ``None`` refreshes at ``token_url``.
    refresh_url: HttpsUrl | None = None
    revoke_url: HttpsUrl | None = None
    #: RFC 8628, for agents with no browser.
    device_authorization_url: HttpsUrl | None = None
    pkce: bool = False
    #: Whether the service refuses a token request without a client secret.
    client_secret_required: bool = False
    token_endpoint_auth: Literal["client_secret_post", "client_secret_basic", "none"] = (
        "client_secret_post"  # noqa: S105 - a method's name, no secret
    )
    scopes: tuple[str, ...] = ()
    scope_separator: Literal[" ", ","] = " "
    #: Sent with the authorization request as they are (``access_type=offline``).
    authorize_params: Mapping[str, str] = Field(default_factory=dict)
    #: Sent with the code exchange as they are, for services that decide the
    #: kind of token there rather than in the authorization request
    #: (Shopify's ``expiring=1`` for tokens that expire and can be refreshed).
    token_params: Mapping[str, str] = Field(default_factory=dict)
    #: Whether refresh tokens are issued at all, and whether each use replaces one.
    refresh_tokens: bool = False
    rotates_refresh_tokens: bool = False
    # Every kind.
    credential: Credential = Credential()
    #: Fixed headers every request to the service must carry besides the
    #: credential (Notion refuses a request without ``Notion-Version``).
    headers: Mapping[str, str] = Field(default_factory=dict)
    whoami: WhoAmI | None = None
    #: What a person should know that the fields cannot say (honest limits).
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise ValueError(
                "must be 2-40 lower-case letters, digits or '_', starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Provider:
        if self.auth is AuthKind.OAUTH2:
            if self.discovery is None and (self.authorize_url is None or self.token_url is None):
                raise ValueError(
                    "an oauth2 provider needs discovery or authorize_url and token_url"
                )
        else:
            oauth_only = {
                "discovery": self.discovery,
                "authorize_url": self.authorize_url,
                "token_url": self.token_url,
                "refresh_url": self.refresh_url,
                "device_authorization_url": self.device_authorization_url,
                "token_params": self.token_params,
            }
            given = sorted(name for name, value in oauth_only.items() if value)
            if given or self.pkce or self.refresh_tokens:
                raise ValueError(f"{self.auth.value} needs no OAuth fields, found {given}")
        if (
            "basic" in template_fields(self.credential.value)
            and self.auth is not AuthKind.KEY_SECRET
            and self.credential.basic_password is None
        ):
            raise ValueError(
                "credential {basic} needs a key and a secret: use auth = key_secret, "
                "or give credential.basic_password"
            )
        if self.rotates_refresh_tokens and not self.refresh_tokens:
            raise ValueError("rotates_refresh_tokens needs refresh_tokens")
        named = set()
        for url in self._urls():
            named |= template_fields(url)
        if named != set(self.parameters):
            raise ValueError(
                f"parameters {sorted(self.parameters)} must be exactly the URLs' "
                f"placeholders {sorted(named)}"
            )
        return self

    def _urls(self) -> Iterator[str]:
        for url in (
            self.discovery,
            self.authorize_url,
            self.token_url,
            self.refresh_url,
            self.revoke_url,
            self.device_authorization_url,
            self.docs,
            self.whoami.url if self.whoami else None,
        ):
            if url:
                yield url

    def fill(self, values: Mapping[str, str]) -> Provider:
        """This record with its ``parameters`` filled in from ``values``.

        ValueError names a missing or malformed value. ``issuer`` is checked
        by :func:`check_issuer`; any other value becomes part of a host name.
        """
        missing = [name for name in self.parameters if not values.get(name, "").strip()]
        if missing:
            raise ValueError(f"{self.name} needs {', '.join(missing)}")
        clean: dict[str, str] = {}
        for name in self.parameters:
            value = values[name].strip()
            if name == "issuer":
                clean[name] = check_issuer(value)
            elif _HOST_PART.fullmatch(value):
                clean[name] = value
            else:
                raise ValueError(f"{name} {value!r} must be letters, digits, '.' and '-' only")
        if not clean:
            return self
        fields = ("discovery", "authorize_url", "token_url", "refresh_url", "revoke_url")
        update: dict[str, object] = {
            name: getattr(self, name).format_map(clean)
            for name in (*fields, "device_authorization_url", "docs")
            if getattr(self, name)
        }
        if self.whoami is not None:
            update["whoami"] = self.whoami.model_copy(
                update={"url": self.whoami.url.format_map(clean)}
            )
        return self.model_copy(update={**update, "parameters": ()})

    @property
    def is_oauth(self) -> bool:
        """Whether connecting goes through the browser (OAuth 2.0)."""
        return self.auth is AuthKind.OAUTH2


class Catalogue:
    """Every provider record, by id, in the file's order."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._providers

    def get(self, provider_id: str) -> Provider:
        """The record of ``provider_id``; ConfigError naming the known ones if none."""
        try:
            return self._providers[provider_id]
        except KeyError:
            raise ConfigError(
                f"There is no integration provider {provider_id!r}.",
                hint="List them with: atom-desktop integrations providers",
            ) from None


def parse_catalogue(text: str, source: str = CATALOGUE_FILE) -> Catalogue:
    """Records from TOML text: one table per provider, its key the id."""
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The provider catalogue {source} is not valid TOML: {exc}.") from None
    providers: dict[str, Provider] = {}
    for key, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {key!r} must be a table of a provider's fields.")
        try:
            providers[key] = Provider.model_validate({"id": key, **table})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or key}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{source}: provider {key!r} is invalid: {problems}.") from None
    return Catalogue(providers)


def load_catalogue() -> Catalogue:
    """The catalogue shipped with the agent."""
    text = resources.files(__package__).joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    return parse_catalogue(text)
