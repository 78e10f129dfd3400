"""Connecting an account through a real OpenID Connect provider, as a person would.

The agent runs on the real OS keyring; the provider's login and consent
pages are filled in headlessly; its redirect is opened like a browser opens
it (no API token). What the agent says, keeps and refuses is checked
against the provider's own view (introspection, its count of token requests).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from atom_desktop.core.alert_kinds import AlertKind
from atom_desktop.core.events import AlertRaised
from atom_desktop.integrations.token_vault import account_entry, decode_secret
from tests.integration.integrations.conftest import OidcAgent


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _secrets(agent: OidcAgent, account_id: str) -> dict[str, str]:
    account = agent.runtime.integrations.repo.get(account_id)
    text = agent.runtime.vault.get(account_entry(account_id, account.secret_generation))
    assert text is not None, "no keyring entry for the account"
    return decode_secret(text)


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {n[:8]}..." for n in needles if n.encode() in data]
    return found


def test_connect_with_pkce_keeps_the_tokens_in_the_keyring_only(oidc_agent: OidcAgent) -> None:
    account_id, url = oidc_agent.connect()
    asked = _query(url)
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 43
    assert asked["redirect_uri"] == f"http://127.0.0.1:{oidc_agent.live.port}/oauth/callback"
    pending = oidc_agent.account(account_id)
    assert (pending["status"], pending["signing_in"]) == ("pending", True)

    answer = oidc_agent.finish(oidc_agent.provider.login(url))

    assert answer.status_code == 200, answer.text
    assert "connected" in answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    account = oidc_agent.account(account_id)
    assert account["status"] == "connected"
    assert account["signing_in"] is False
    assert account["account"] == "alice"
    assert account["token_storage"] == "keyring"
    assert account["expires_at"] is not None
    assert account["last_error"] is None
    tokens = _secrets(oidc_agent, account_id)
    assert oidc_agent.provider.introspect(tokens["access_token"])["active"] is True
    assert oidc_agent.provider.introspect(tokens["refresh_token"])["active"] is True
    # Not in the database, the config, the logs or any other file of the profile.
    paths = oidc_agent.runtime.paths
    for root in {paths.data_dir, paths.config_dir, paths.log_dir}:
        assert _files_holding(root, [tokens["access_token"], tokens["refresh_token"]]) == []


def test_a_refresh_rotates_and_the_old_refresh_token_is_refused(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    before = _secrets(oidc_agent, account_id)

    with oidc_agent.client() as client:
        response = client.post(f"/api/v1/integrations/{account_id}/refresh")

    assert response.status_code == 200, response.text
    after = _secrets(oidc_agent, account_id)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    provider = oidc_agent.provider
    assert provider.introspect(after["access_token"])["active"] is True
    assert provider.introspect(before["refresh_token"])["active"] is False
    assert provider.token_requests().get("refresh_token") == 1
    # The old generation's keyring entry is gone.
    generation = oidc_agent.runtime.integrations.repo.get(account_id).secret_generation
    assert oidc_agent.runtime.vault.get(account_entry(account_id, generation - 1)) is None


def test_an_expired_token_is_refreshed_before_it_is_handed_out(
    oidc_agent: OidcAgent, tmp_path: Path
) -> None:
    account_id = str(oidc_agent.connected()["id"])
    service = oidc_agent.runtime.integrations
    first = oidc_agent.call(service.async_access_token(account_id))
    assert oidc_agent.provider.token_requests().get("refresh_token") is None
    # The provider's tokens live an hour; the agent is told its one expires now.
    record = service.repo.get(account_id)
    service.repo.update(account_id, expires_at=record.created_at)
    oidc_agent.call(_reload(oidc_agent, account_id))

    second = oidc_agent.call(service.async_access_token(account_id))

    assert second != first
    assert oidc_agent.provider.token_requests().get("refresh_token") == 1
    assert oidc_agent.provider.introspect(second)["active"] is True


async def _reload(agent: OidcAgent, account_id: str) -> None:
    service = agent.runtime.integrations
    service._remember(service.repo.get(account_id))  # what a restart would read


def test_a_revoked_grant_asks_for_a_reconnect_once_and_never_loops(
    oidc_agent: OidcAgent,
) -> None:
    account_id = str(oidc_agent.connected()["id"])
    alerts: list[AlertRaised] = []
    oidc_agent.runtime.bus.subscribe(
        lambda e: alerts.append(e.payload) if isinstance(e.payload, AlertRaised) else None
    )
    oidc_agent.provider.revoke_all_grants()

    with oidc_agent.client() as client:
        answers = [client.post(f"/api/v1/integrations/{account_id}/refresh") for _ in range(3)]
        token_use = [client.post(f"/api/v1/integrations/{account_id}/check") for _ in range(2)]

    assert [a.status_code for a in answers] == [409, 409, 409]
    assert answers[0].json()["error"]["code"] == "reconnect_needed"
    assert all(a.status_code == 200 for a in token_use)
    account = oidc_agent.account(account_id)
    assert account["status"] == "reconnect_needed"
    assert "invalid_grant" in str(account["last_error"])
    # One refresh reached the provider; the rest were refused by the agent.
    assert oidc_agent.provider.token_requests().get("refresh_token") == 1
    # Told once, as an alert (a notification and the tray's error state in the window).
    assert [(a.alert, a.subject, a.title) for a in alerts] == [
        ("integration_reconnect", account_id, "Reconnect OpenID Connect")
    ]


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_a_second_reconnect_within_the_window_is_held_back_and_off_is_silent(
    oidc_agent: OidcAgent, enabled: bool
) -> None:
    account_id = str(oidc_agent.connected()["id"])
    oidc_agent.runtime.alerts.set_enabled(AlertKind.INTEGRATION_RECONNECT, enabled)
    alerts: list[AlertRaised] = []
    oidc_agent.runtime.bus.subscribe(
        lambda e: alerts.append(e.payload) if isinstance(e.payload, AlertRaised) else None
    )
    for _ in range(2):
        oidc_agent.provider.revoke_all_grants()
        with oidc_agent.client() as client:
            refused = client.post(f"/api/v1/integrations/{account_id}/refresh")
            assert refused.status_code == 409, refused.text
            started = client.post(f"/api/v1/integrations/{account_id}/reconnect")
        assert started.status_code == 200, started.text
        answer = oidc_agent.finish(oidc_agent.provider.login(started.json()["authorize_url"]))
        assert answer.status_code == 200, answer.text
        assert oidc_agent.account(account_id)["status"] == "connected"

    # Twice "reconnect needed" within the rate limit's window: one alert (or none, off).
    expected = [account_id] if enabled else []
    assert [a.subject for a in alerts if a.alert == "integration_reconnect"] == expected


def test_a_reconnect_replaces_the_tokens_of_the_same_account(oidc_agent: OidcAgent) -> None:
    account_id = str(oidc_agent.connected()["id"])
    oidc_agent.provider.revoke_all_grants()
    with oidc_agent.client() as client:
        assert client.post(f"/api/v1/integrations/{account_id}/refresh").status_code == 409
        started = client.post(f"/api/v1/integrations/{account_id}/reconnect")
    assert started.status_code == 200, started.text

    answer = oidc_agent.finish(oidc_agent.provider.login(started.json()["authorize_url"]))

    assert answer.status_code == 200, answer.text
    account = oidc_agent.account(account_id)
    assert account["status"] == "connected"
    assert account["last_error"] is None
    tokens = _secrets(oidc_agent, account_id)
    assert oidc_agent.provider.introspect(tokens["access_token"])["active"] is True


def test_disconnect_revokes_the_grant_and_deletes_the_keyring_entries(
    oidc_agent: OidcAgent,
) -> None:
    account_id = str(oidc_agent.connected()["id"])
    tokens = _secrets(oidc_agent, account_id)
    generation = oidc_agent.runtime.integrations.repo.get(account_id).secret_generation

    with oidc_agent.client() as client:
        response = client.delete(f"/api/v1/integrations/{account_id}")
        gone = client.get(f"/api/v1/integrations/{account_id}")

    assert response.status_code == 200, response.text
    assert response.json()["revoked"] is True
    assert gone.status_code == 404
    provider = oidc_agent.provider
    assert provider.introspect(tokens["refresh_token"])["active"] is False
    assert provider.introspect(tokens["access_token"])["active"] is False
    vault = oidc_agent.runtime.vault
    vault._cache.clear()  # ask the keyring itself, not what the vault remembers
    assert vault.get(account_entry(account_id, generation)) is None


def test_the_device_grant_connects_an_agent_without_a_browser(oidc_agent: OidcAgent) -> None:
    with oidc_agent.client() as client:
        started = client.post(
            "/api/v1/integrations/device",
            json={"provider": "oidc", "issuer": oidc_agent.provider.issuer},
        )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["verification_uri"].startswith(oidc_agent.provider.issuer)

    oidc_agent.provider.approve_device(body["user_code"])

    # Connected first, then named by the account's first check (a separate
    # request to the provider): wait for both.
    deadline = time.monotonic() + 30
    account = oidc_agent.account(body["id"])
    while (account["status"] == "pending" or not account["account"]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
        account = oidc_agent.account(body["id"])
    assert account["status"] == "connected", account
    assert account["account"] == "alice"


def test_callbacks_that_cannot_be_used_are_refused_and_store_nothing(
    oidc_agent: OidcAgent,
) -> None:
    account_id, url = oidc_agent.connect()
    callback = oidc_agent.provider.login(url)
    bogus = callback.replace(_query(callback)["state"], "x" * 43)

    wrong_state = oidc_agent.finish(bogus)
    first = oidc_agent.finish(callback)
    replayed = oidc_agent.finish(callback)
    no_state = oidc_agent.finish(callback.split("?")[0])

    assert wrong_state.status_code == 400
    assert "unknown" in wrong_state.text
    assert first.status_code == 200
    assert replayed.status_code == 400
    assert "already used" in replayed.text
    assert no_state.status_code == 400
    # The code was exchanged once: a replay never reached the provider.
    assert oidc_agent.provider.token_requests().get("authorization_code") == 1
    assert oidc_agent.account(account_id)["status"] == "connected"


def test_a_refusal_at_the_provider_leaves_the_account_failed_without_tokens(
    oidc_agent: OidcAgent,
) -> None:
    account_id, url = oidc_agent.connect()

    answer = oidc_agent.finish(oidc_agent.provider.deny(url))

    assert answer.status_code == 400
    assert "access_denied" in answer.text
    account = oidc_agent.account(account_id)
    assert account["status"] == "error"
    assert "access_denied" in str(account["last_error"])
    assert oidc_agent.runtime.integrations.repo.get(account_id).secret_generation == 0


def test_a_provider_that_is_down_is_named_and_nothing_is_stored(oidc_agent: OidcAgent) -> None:
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens there

    with oidc_agent.client() as client:
        response = client.post("/api/v1/integrations", json={"provider": "oidc", "issuer": dead})
        listed = client.get("/api/v1/integrations")

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "provider_unreachable"
    assert "127.0.0.1:9" in error["message"]
    assert listed.json() == []


def test_a_key_service_is_not_signed_in_to(oidc_agent: OidcAgent) -> None:
    with oidc_agent.client() as client:
        browser = client.post("/api/v1/integrations", json={"provider": "telegram"})
        device = client.post("/api/v1/integrations/device", json={"provider": "telegram"})

    for answer in (browser, device):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert "connected with a key" in error["message"]
        assert "add-key telegram" in error["hint"]
