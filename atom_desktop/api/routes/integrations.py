"""Integrations: the provider catalogue, connected accounts, sign-in, check, revoke.

Reading needs ``read``; connecting, disconnecting and setting a provider's
client need ``admin`` (they hand the agent, or take from it, access to a
person's accounts elsewhere); a refresh or a check needs ``automate``.
No answer ever holds a token, a key or a client secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.convertors import StringConvertor, register_url_convertor

from atom_desktop.api.deps import AgentDep, scope
from atom_desktop.api.schemas import ERROR_RESPONSES
from atom_desktop.integrations.catalogue import Provider
from atom_desktop.integrations.errors import IntegrationError
from atom_desktop.integrations.service import Account
from atom_desktop.runner.request import STRICT

router = APIRouter(prefix="/integrations", tags=["integrations"], responses=ERROR_RESPONSES)


class _IntegrationId(StringConvertor):
    """A path segment that names an account: anything but the literal routes.

    ``/integrations/providers``, ``/device`` and ``/keys`` are routes of their
    own; without this their other methods went to ``/{integration_id}`` (and
    a 405's ``Allow`` listed that route's methods too).
    """

    regex = "(?!(?:providers|device|keys)$)[^/]+"


# Starlette's one registry of convertors, read when a path is compiled (here
# and by the security layer's route table).
register_url_convertor("integration_id", _IntegrationId())
ACCOUNT = "/{integration_id:integration_id}"

_SLUG = r"^[a-z][a-z0-9_]{1,39}$"
#: No control characters: a value may end up in a header or an address.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
ProviderId = Annotated[str, Field(pattern=_SLUG, description="A provider's id, e.g. github.")]
IntegrationId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=4096, pattern=_PRINTABLE)]
Scope = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
ParameterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Parameters = Annotated[
    dict[ParameterName, Text],
    Field(
        max_length=8,
        description="Values the provider's addresses need (subdomain, shop).",
        json_schema_extra={"additionalProperties": False},
    ),
]


class ProviderPublic(BaseModel):
    """A service the agent can connect to, and how."""

    id: str
    name: str
    category: str
    auth: str
    docs: str
    parameters: list[str]
    scopes: list[str]
    pkce: bool
    device_grant: bool
    refresh_tokens: bool
    rotates_refresh_tokens: bool
    client_configured: bool = Field(description="Whether a client id is set for it.")
    notes: str


class IntegrationPublic(BaseModel):
    """A connected (or connecting) account; never its tokens."""

    id: str
    provider: str
    provider_name: str
    account: str
    status: str = Field(description="pending, connected, reconnect_needed or error")
    scopes: list[str]
    parameters: dict[str, str]
    token_storage: str = Field(description="keyring, or database when no keyring is usable")
    expires_at: datetime | None
    refreshed_at: datetime | None
    checked_at: datetime | None
    last_error: str | None
    created_at: datetime
    signing_in: bool = Field(
        description="A sign-in of the account (browser or device) is under way; "
        "when it ends, status and last_error say how it went."
    )


class IntegrationConnect(BaseModel):
    """Start a browser sign-in (OAuth 2.0 authorization code with PKCE)."""

    model_config = STRICT

    provider: ProviderId
    issuer: Text | None = Field(default=None, description="The generic oidc provider's issuer URL.")
    parameters: Parameters = {}
    scopes: Annotated[list[Scope], Field(max_length=50)] | None = None
    client_id: Text | None = Field(
        default=None, description="Only for the generic oidc provider: its client id."
    )
    client_secret: Text | None = Field(
        default=None, description="Only for the generic oidc provider, if it needs one."
    )


class IntegrationStarted(BaseModel):
    """The pending account and the address to open in a browser."""

    id: str
    authorize_url: str


class DeviceStarted(BaseModel):
    """RFC 8628: enter ``user_code`` at ``verification_uri`` (on any device)."""

    id: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in_s: float


class IntegrationKey(BaseModel):
    """A service's own credential: ``token``, or ``key`` and ``secret``."""

    model_config = STRICT

    provider: ProviderId
    parameters: Parameters = {}
    token: Text | None = None
    key: Text | None = None
    secret: Text | None = None


class ClientSetting(BaseModel):
    """The OAuth app registered with a provider; the secret goes to the OS keyring."""

    model_config = STRICT

    client_id: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")]
    client_secret: Text | None = None


class Disconnection(BaseModel):
    """How removing the account went at the provider."""

    revoked: bool
    pending: bool = Field(description="The provider was not reachable: retried later.")
    message: str


def _provider(agent: AgentDep, provider: Provider) -> ProviderPublic:
    return ProviderPublic(
        id=provider.id,
        name=provider.name,
        category=provider.category.value,
        auth=provider.auth.value,
        docs=provider.docs,
        parameters=list(provider.parameters),
        scopes=list(provider.scopes),
        pkce=provider.pkce,
        device_grant=provider.device_authorization_url is not None
        or (provider.discovery is not None and provider.is_oauth),
        refresh_tokens=provider.refresh_tokens,
        rotates_refresh_tokens=provider.rotates_refresh_tokens,
        client_configured=not provider.is_oauth
        or agent.integrations.clients.client_id(provider.id) is not None,
        notes=provider.notes,
    )


def _public(account: Account) -> IntegrationPublic:
    return IntegrationPublic(
        id=account.id,
        provider=account.provider,
        provider_name=account.provider_name,
        account=account.account,
        status=account.status,
        scopes=list(account.scopes),
        parameters=dict(account.parameters),
        token_storage=account.token_storage,
        expires_at=account.expires_at,
        refreshed_at=account.refreshed_at,
        checked_at=account.checked_at,
        last_error=account.last_error,
        created_at=account.created_at,
        signing_in=account.signing_in,
    )


def _with_issuer(body: IntegrationConnect) -> dict[str, str]:
    parameters = dict(body.parameters)
    if body.issuer is not None:
        parameters["issuer"] = body.issuer
    return parameters


@router.get("/providers", openapi_extra=scope("read"))
def list_providers(agent: AgentDep) -> list[ProviderPublic]:
    """Every service in the catalogue and how it connects."""
    return [_provider(agent, p) for p in agent.integrations.catalogue]


@router.put("/providers/{provider_id}/client", openapi_extra=scope("admin"))
def set_client(
    agent: AgentDep,
    provider_id: Annotated[str, Path(pattern=_SLUG)],
    body: ClientSetting,
) -> ProviderPublic:
    """Set the OAuth client id (config file) and secret (OS keyring) for a provider."""
    provider = agent.integrations.catalogue.get(provider_id)
    secret = body.client_secret
    agent.integrations.clients.save(provider.id, body.client_id, secret)
    return _provider(agent, provider)


@router.get("", openapi_extra=scope("read"))
def list_integrations(agent: AgentDep) -> list[IntegrationPublic]:
    """Every account, oldest first."""
    return [_public(a) for a in agent.integrations.accounts()]


@router.post("", status_code=201, openapi_extra=scope("admin"))
async def connect(agent: AgentDep, body: IntegrationConnect) -> IntegrationStarted:
    """Start connecting: open ``authorize_url`` in a browser; the agent's
    ``/oauth/callback`` completes it. Poll ``GET /integrations/{id}`` for the outcome."""
    account, url = await agent.integrations.async_connect(
        body.provider,
        parameters=_with_issuer(body),
        scopes=body.scopes,
        client_id=body.client_id,
        client_secret=body.client_secret,
    )
    return IntegrationStarted(id=account.id, authorize_url=url)


@router.post("/device", status_code=201, openapi_extra=scope("admin"))
async def connect_device(agent: AgentDep, body: IntegrationConnect) -> DeviceStarted:
    """Start connecting without a browser here (RFC 8628): the agent polls meanwhile."""
    started = await agent.integrations.async_connect_device(
        body.provider,
        parameters=_with_issuer(body),
        scopes=body.scopes,
        client_id=body.client_id,
        client_secret=body.client_secret,
    )
    return DeviceStarted(
        id=started.account.id,
        user_code=started.user_code,
        verification_uri=started.verification_uri,
        verification_uri_complete=started.verification_uri_complete,
        expires_in_s=round(started.expires_in_s, 1),
    )


@router.post("/keys", status_code=201, openapi_extra=scope("admin"))
async def add_key(agent: AgentDep, body: IntegrationKey) -> IntegrationPublic:
    """Connect a service with its own credential; checked before it is kept."""
    values = {
        name: value
        for name, value in (("token", body.token), ("key", body.key), ("secret", body.secret))
        if value is not None
    }
    account = await agent.integrations.async_add_key(
        body.provider, values, parameters=body.parameters
    )
    return _public(account)


@router.get(ACCOUNT, openapi_extra=scope("read"))
def get_integration(agent: AgentDep, integration_id: IntegrationId) -> IntegrationPublic:
    """One account."""
    return _public(agent.integrations.account(integration_id))


@router.post(ACCOUNT + "/reconnect", openapi_extra=scope("admin"))
async def reconnect(agent: AgentDep, integration_id: IntegrationId) -> IntegrationStarted:
    """A new sign-in for the account; its tokens are replaced when it completes."""
    url = await agent.integrations.async_reconnect(integration_id)
    return IntegrationStarted(id=integration_id, authorize_url=url)


@router.post(ACCOUNT + "/refresh", openapi_extra=scope("automate"))
async def refresh(agent: AgentDep, integration_id: IntegrationId) -> IntegrationPublic:
    """Refresh the account's tokens now."""
    return _public(await agent.integrations.async_refresh(integration_id))


@router.post(ACCOUNT + "/check", openapi_extra=scope("automate"))
async def check(agent: AgentDep, integration_id: IntegrationId) -> IntegrationPublic:
    """Send the account's "who am I" request now; the outcome is in the answer
    (``last_error`` is null when it passed)."""
    try:
        account = await agent.integrations.async_check(integration_id)
    except IntegrationError:
        account = agent.integrations.account(integration_id)  # the failure is recorded
    return _public(account)


@router.delete(ACCOUNT, openapi_extra=scope("admin"))
async def disconnect(agent: AgentDep, integration_id: IntegrationId) -> Disconnection:
    """Revoke at the provider and delete the account and its tokens (offline: revoked later)."""
    done = await agent.integrations.async_disconnect(integration_id)
    return Disconnection(revoked=done.revoked, pending=done.pending, message=done.message)
