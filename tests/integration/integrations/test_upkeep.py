"""Keeping accounts working: real expiry, an unreachable provider, the daily check."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atom_desktop.integrations.errors import Failure, IntegrationError
from atom_desktop.integrations.token_vault import account_entry, decode_secret
from tests.integration.api.test_automations import create, trigger_and_wait
from tests.integration.integrations.conftest import OidcAgent
from tests.support.tcp_proxy import TcpProxy


def _until(check: Callable[[], Any], timeout: float = 30, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def _access_token(agent: OidcAgent, account_id: str) -> str:
    account = agent.runtime.integrations.repo.get(account_id)
    text = agent.runtime.vault.get(account_entry(account_id, account.secret_generation))
    return decode_secret(text or "")["access_token"]


@pytest.mark.parametrize("proxied", [2], indirect=True)
def test_a_token_the_provider_let_expire_is_refreshed_before_a_step_uses_it(
    proxied: tuple[OidcAgent, TcpProxy],
) -> None:
    agent, _ = proxied
    account_id = str(agent.connected()["id"])
    old = _access_token(agent, account_id)
    # Really expired at the provider (tokens there live 2 s).
    _until(lambda: not agent.provider.introspect(old)["active"], what="the token to expire")
    # (A token with less than a minute left is refreshed before use: the
    # check on connect already did once.)
    refreshed = agent.provider.token_requests().get("refresh_token", 0)

    with agent.client() as client:
        made = create(
            client,
            {
                "name": "me",
                "steps": [
                    {
                        "type": "http",
                        "url": agent.provider.metadata["userinfo_endpoint"],
                        "auth": account_id,
                    }
                ],
            },
        )
        run = trigger_and_wait(client, made["id"])

    assert run["status"] == "succeeded", run
    assert run["steps"][0]["json"]["sub"] == "alice"
    assert agent.provider.token_requests().get("refresh_token") == refreshed + 1
    assert _access_token(agent, account_id) != old


def test_an_unreachable_provider_backs_off_and_a_valid_token_is_still_used(
    proxied: tuple[OidcAgent, TcpProxy],
) -> None:
    agent, proxy = proxied
    account_id = str(agent.connected()["id"])
    service = agent.runtime.integrations
    token = _access_token(agent, account_id)
    proxy.stop()

    with agent.client() as client:
        forced = client.post(f"/api/v1/integrations/{account_id}/refresh")
    assert forced.status_code == 502
    assert forced.json()["error"]["code"] == "provider_unreachable"
    account = service.repo.get(account_id)
    assert account.failures == 1
    assert account.retry_at is not None
    assert account.retry_at - datetime.now(UTC) > timedelta(seconds=20)
    assert account.status == "connected"  # nothing the person must do

    # Due for a refresh soon, but still valid: used as it is while backing off.
    soon = datetime.now(UTC) + timedelta(seconds=30)
    agent.call(_set_expiry(agent, account_id, soon))
    assert agent.call(service.async_access_token(account_id)) == token
    # Expired: the back-off is honoured (no request), and the error says when next.
    agent.call(_set_expiry(agent, account_id, datetime.now(UTC) - timedelta(seconds=1)))
    forwarded = dict(proxy.forwarded)
    with pytest.raises(IntegrationError) as raised:
        agent.call(service.async_access_token(account_id))
    assert raised.value.failure is Failure.TRANSIENT
    assert "next try" in raised.value.message
    assert proxy.forwarded == forwarded

    proxy.start()
    agent.call(_clear_backoff(agent, account_id))
    fresh = agent.call(service.async_access_token(account_id))
    assert fresh != token
    assert agent.provider.introspect(fresh)["active"] is True
    assert service.repo.get(account_id).failures == 0


async def _set_expiry(agent: OidcAgent, account_id: str, when: datetime) -> None:
    service = agent.runtime.integrations
    service._remember(service.repo.update(account_id, expires_at=when))


async def _clear_backoff(agent: OidcAgent, account_id: str) -> None:
    """What the passing of the back-off's time does."""
    service = agent.runtime.integrations
    service._remember(service.repo.update(account_id, retry_at=datetime.now(UTC)))


def test_accounts_not_checked_for_a_day_are_checked_by_the_agent(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    service = oidc_agent.runtime.integrations
    checked = service.repo.get(account_id).checked_at
    assert checked is not None  # checked once on connect

    oidc_agent.call(_checked_at(oidc_agent, account_id, checked - timedelta(days=2)))
    service.wake()

    _until(
        lambda: (service.repo.get(account_id).checked_at or checked) > checked,
        what="the daily check",
    )
    assert service.repo.get(account_id).last_error is None


async def _checked_at(agent: OidcAgent, account_id: str, when: datetime) -> None:
    service = agent.runtime.integrations
    service._remember(service.repo.update(account_id, checked_at=when))
