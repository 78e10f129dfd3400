"""A real OpenID Connect provider for the tests of the integrations' OAuth."""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.runtime import Runtime
from tests.integration.api.conftest import LiveAgent, start_agent
from tests.support.oidc_provider import OidcProvider, running_oidc_provider
from tests.support.ports import free_port
from tests.support.secret_service import SecretServiceSession
from tests.support.tcp_proxy import TcpProxy

T = TypeVar("T")


@pytest.fixture
def oidc_provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """A fresh provider per test (about a second to start): no grant or token leaks between tests.

    Access tokens live an hour; a test of expiry starts its own with
    ``running_oidc_provider(path, access_token_ttl_s=2)``.
    """
    with running_oidc_provider(tmp_path / "oidc") as provider:
        yield provider


@dataclass
class OidcAgent:
    """An agent on the real OS keyring whose generic ``oidc`` client is the provider's."""

    live: LiveAgent
    provider: OidcProvider
    keyring: SecretServiceSession

    @property
    def runtime(self) -> Runtime:
        """The agent's runtime."""
        return self.live.runtime

    def client(self) -> httpx.Client:
        """An API client with the owner token."""
        return self.live.client()

    def connect(self, **extra: object) -> tuple[str, str]:
        """Start connecting the provider: the account id and the URL to open."""
        with self.client() as client:
            response = client.post(
                "/api/v1/integrations",
                json={"provider": "oidc", "issuer": self.provider.issuer, **extra},
            )
        assert response.status_code == 201, response.text
        body = response.json()
        return str(body["id"]), str(body["authorize_url"])

    def finish(self, callback_url: str) -> httpx.Response:
        """Open the provider's redirect as the browser would (no API token)."""
        with httpx.Client(timeout=30) as browser:
            return browser.get(callback_url)

    def connected(self) -> dict[str, object]:
        """Connect through the browser flow; the account as the API shows it."""
        account_id, url = self.connect()
        answer = self.finish(self.provider.login(url))
        assert answer.status_code == 200, answer.text
        return self.account(account_id)

    def account(self, account_id: str) -> dict[str, object]:
        """``GET /api/v1/integrations/{id}``."""
        with self.client() as client:
            response = client.get(f"/api/v1/integrations/{account_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the agent's loop and wait for it."""
        return self.live.host.call(coro).result(timeout=60)


def oidc_agent_settings(settings: Settings, provider: OidcProvider) -> Settings:
    """``settings`` with the provider's native client as the generic oidc client."""
    config_file = settings.config_dir / "config.toml" if settings.config_dir else None
    assert config_file is not None
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(f'[integrations.oidc]\nclient_id = "{provider.client_id}"\n')
    return settings


@contextmanager
def running_oidc_agent(
    settings: Settings, provider: OidcProvider, keyring: SecretServiceSession
) -> Iterator[OidcAgent]:
    """An agent (real keyring, real uvicorn) that knows ``provider``'s client."""
    oidc_agent_settings(settings, provider)
    runtime, host, counter = start_agent(
        settings, keyring_backend=keyring.backend(), heartbeat_s=0.2
    )
    try:
        owner = runtime.token_service.owner
        assert owner is not None
        port = runtime.api_port
        live = LiveAgent(runtime, host, f"http://127.0.0.1:{port}", owner.secret, port, counter)
        yield OidcAgent(live, provider, keyring)
    finally:
        host.stop()


@pytest.fixture
def oidc_agent(
    settings: Settings, oidc_provider: OidcProvider, secret_service: SecretServiceSession
) -> Iterator[OidcAgent]:
    """A running agent and a running provider, the agent's client registered there."""
    with running_oidc_agent(settings, oidc_provider, secret_service) as agent:
        yield agent


@pytest.fixture
def proxied(
    tmp_path: Path,
    settings: Settings,
    secret_service: SecretServiceSession,
    request: pytest.FixtureRequest,
) -> Iterator[tuple[OidcAgent, TcpProxy]]:
    """An agent whose provider is reached through a proxy the test can stop.

    ``@pytest.mark.parametrize("proxied", [TTL], indirect=True)`` sets the
    lifetime of access tokens (default an hour).
    """
    port = free_port()
    ttl = int(getattr(request, "param", 3600))
    with running_oidc_provider(
        tmp_path / "oidc", public_port=port, access_token_ttl_s=ttl
    ) as provider:
        proxy = TcpProxy(port, ("127.0.0.1", provider.port))
        proxy.start()
        try:
            with running_oidc_agent(settings, provider, secret_service) as agent:
                yield agent, proxy
        finally:
            proxy.stop()
