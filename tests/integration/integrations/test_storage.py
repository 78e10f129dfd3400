"""Where tokens live when the keyring limits entry sizes or is missing, and
revocation when the provider is offline."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keyring.backends.fail
import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.integrations.token_vault import (
    TokenVault,
    account_entry,
    decode_secret,
    revocation_entry,
)
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.secrets.keyring_vault import KeyringVault
from tests.integration.api.conftest import LiveAgent, start_agent
from tests.integration.integrations.conftest import (
    OidcAgent,
    oidc_agent_settings,
)
from tests.support.oidc_provider import OidcProvider
from tests.support.secret_service import SecretServiceSession
from tests.support.tcp_proxy import TcpProxy


def test_long_secrets_are_split_across_entries_and_joined_on_read(
    secret_service: SecretServiceSession,
) -> None:
    def fresh() -> KeyringVault:
        # A vault of its own each time: nothing remembered, the keyring asked.
        return KeyringVault("atom-desktop:split-test", secret_service.backend())

    vault = TokenVault(fresh(), part_chars=100)
    text = '{"access_token":"' + "a" * 450 + '"}'

    vault.write("integration:x:1", text)

    head = fresh().get("integration:x:1")
    assert head is not None and head.startswith("parts:5:")
    assert all(len(fresh().get(f"integration:x:1.{n}") or "") <= 100 for n in range(1, 6))
    assert TokenVault(fresh(), 100).read("integration:x:1") == text
    # A part changed or lost is found, never used.
    fresh().set("integration:x:1.3", "b" * 100)
    with pytest.raises(SecretsError, match="do not fit together"):
        TokenVault(fresh(), 100).read("integration:x:1")
    fresh().delete("integration:x:1.3")
    with pytest.raises(SecretsError, match="Part 3"):
        TokenVault(fresh()).read("integration:x:1")
    TokenVault(fresh()).remove("integration:x:1")
    assert [fresh().get(f"integration:x:1{s}") for s in ("", ".1", ".5")] == [None] * 3


def test_a_connected_account_on_a_size_limited_keyring_works_end_to_end(
    settings: Settings, oidc_provider: OidcProvider, secret_service: SecretServiceSession
) -> None:
    oidc_agent_settings(settings, oidc_provider)
    runtime, host, counter = start_agent(settings, keyring_backend=secret_service.backend())
    # As on Windows, where one entry holds 2,560 bytes: here 64 characters.
    service = runtime.integrations
    service._settings = dataclasses.replace(service._settings, part_chars=64)
    try:
        host.call(runtime.integrations.async_stop()).result(10)
        host.call(runtime.integrations.async_start()).result(10)
        owner = runtime.token_service.owner
        assert owner is not None
        live = LiveAgent(
            runtime, host, f"http://127.0.0.1:{runtime.api_port}", owner.secret, 0, counter
        )
        agent = OidcAgent(live, oidc_provider, secret_service)
        account_id = str(agent.connected()["id"])
        generation = runtime.integrations.repo.get(account_id).secret_generation
        head = runtime.vault.get(account_entry(account_id, generation))
        assert head is not None and head.startswith("parts:")
        token = agent.call(runtime.integrations.async_access_token(account_id))
        assert oidc_provider.introspect(token)["active"] is True
        with agent.client() as client:
            assert client.post(f"/api/v1/integrations/{account_id}/refresh").status_code == 200
        assert agent.call(runtime.integrations.async_access_token(account_id)) != token
    finally:
        host.stop()


def test_without_a_keyring_tokens_are_in_the_encrypted_database_and_it_says_so(
    settings: Settings, oidc_provider: OidcProvider
) -> None:
    oidc_agent_settings(settings, oidc_provider)
    runtime, host, counter = start_agent(settings, keyring_backend=keyring.backends.fail.Keyring())
    try:
        owner = runtime.token_service.owner
        assert owner is not None
        live = LiveAgent(
            runtime, host, f"http://127.0.0.1:{runtime.api_port}", owner.secret, 0, counter
        )
        agent = OidcAgent(live, oidc_provider, None)  # type: ignore[arg-type]
        account = agent.connected()
        assert account["status"] == "connected"
        assert account["token_storage"] == "database"
        stored = runtime.integrations.repo.get(str(account["id"]))
        assert stored.secret is not None
        tokens = decode_secret(stored.secret)
        assert oidc_provider.introspect(tokens["access_token"])["active"] is True
        # The database file is encrypted: the token's bytes are not in it.
        data = Path(runtime.paths.database).read_bytes()
        assert tokens["access_token"].encode() not in data
    finally:
        host.stop()


def test_offline_the_account_goes_at_once_and_the_revocation_follows_later(
    proxied: tuple[OidcAgent, TcpProxy],
) -> None:
    agent, proxy = proxied
    account_id = str(agent.connected()["id"])
    service = agent.runtime.integrations
    tokens = decode_secret(
        agent.runtime.vault.get(
            account_entry(account_id, service.repo.get(account_id).secret_generation)
        )
        or ""
    )
    proxy.stop()

    with agent.client() as client:
        answer = client.delete(f"/api/v1/integrations/{account_id}")
        assert client.get(f"/api/v1/integrations/{account_id}").status_code == 404

    assert answer.status_code == 200, answer.text
    assert answer.json()["pending"] is True
    assert "retried later" in answer.json()["message"]
    owed = service.repo.revocations()
    assert len(owed) == 1
    assert owed[0].secret is None  # the token waits in the keyring, not the database
    assert agent.runtime.vault.get(revocation_entry(owed[0].id)) is not None
    # Made due now (as if its back-off had passed); still offline, it fails again.
    service.repo.revocation_failed(owed[0].id, "test", owed[0].created_at)
    assert agent.call(service.async_retry_revocations()) == 0
    assert service.repo.revocations()[0].attempts == 2

    proxy.start()
    service.repo.revocation_failed(owed[0].id, "test", owed[0].created_at)  # due now
    assert agent.call(service.async_retry_revocations()) == 1

    assert service.repo.revocations() == []
    agent.runtime.vault._cache.clear()
    assert agent.runtime.vault.get(revocation_entry(owed[0].id)) is None
    assert agent.provider.introspect(tokens["refresh_token"])["active"] is False
    assert agent.provider.introspect(tokens["access_token"])["active"] is False
