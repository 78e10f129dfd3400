"""Provider keys in a real Secret Service (gnome-keyring on a private D-Bus), and nowhere else.

The provider calls go to the fake OpenAI-compatible server (a fake, see its module).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from atom_desktop.assistant.providers.base import ChatMessage, complete
from atom_desktop.assistant.providers.choice import ProviderChoice, build_provider, check_provider
from atom_desktop.assistant.providers.client import new_client
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.keys import ProviderKeys, key_entry
from atom_desktop.assistant.providers.retry import RetryPolicy
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import MASK, Redactor
from atom_desktop.secrets.keyring_vault import KeyringVault
from tests.integration.assistant.conftest import KEY
from tests.support import fake_openai_server as fake
from tests.support.scripted_http_server import ScriptedServer
from tests.support.secret_service import SecretServiceSession

SERVICE = "atom-desktop-test-assistant"


def _choice(server: ScriptedServer) -> ProviderChoice:
    return ProviderChoice("openai_compatible", fake.MODEL, server.base_url + "/v1")


def _check(choice: ProviderChoice, key: str | None) -> str:
    async def run() -> str:
        async with new_client() as client:
            return await check_provider(build_provider(choice, client, key))

    return asyncio.run(run())


def test_the_key_lives_in_the_keyring_and_works(
    secret_service: SecretServiceSession,
    openai_server: ScriptedServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    redactor = Redactor()
    choice = _choice(openai_server)
    keys = ProviderKeys(KeyringVault(SERVICE, secret_service.backend()), redactor)
    keys.set(choice.kind, choice.base_url, KEY)
    # In the keyring, read back by Secret Service itself, under the server's own entry.
    assert secret_service.stored(SERVICE, key_entry(choice.kind, choice.base_url)) == KEY

    # A fresh vault (a later start) finds it there and the provider is let in with it.
    fresh = ProviderKeys(KeyringVault(SERVICE, secret_service.backend()), Redactor())
    found = fresh.get(choice.kind, choice.base_url)
    assert found == KEY
    openai_server.add(fake.stream(["ready"]))
    assert _check(choice, found) == "ready"
    assert openai_server.received[-1].headers["authorization"] == f"Bearer {KEY}"

    # Another server at another address has no key: a key is never sent elsewhere.
    assert fresh.get(choice.kind, "http://127.0.0.1:11434/v1") is None

    # The settings and the config directory know nothing of it.
    settings = Settings(
        data_dir=tmp_path / "d",
        config_dir=tmp_path / "c",
        assistant_provider="openai_compatible",
        assistant_base_url=choice.base_url,
        assistant_model=choice.model,
    )
    assert KEY not in settings.model_dump_json()
    assert redactor.redact(f"key={KEY} and {KEY}") == f"key={MASK} and {MASK}"
    assert not [r for r in caplog.records if KEY in r.getMessage()]

    keys.delete(choice.kind, choice.base_url)
    assert secret_service.stored(SERVICE, key_entry(choice.kind, choice.base_url)) is None


def test_a_wrong_key_stays_out_of_logs_and_messages(
    secret_service: SecretServiceSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-stale-key-from-last-year-0000"
    with fake.fake_openai_server() as server:
        choice = _choice(server)
        keys = ProviderKeys(KeyringVault(SERVICE, secret_service.backend()), Redactor())
        keys.set(choice.kind, choice.base_url, wrong)
        key = keys.get(choice.kind, choice.base_url)
        # A 503 first, retried and logged; then the 401 that repeats the key it was sent.
        server.add(fake.server_error(503), fake.invalid_key(wrong))
        error = _fail(choice, key)
        assert len(server.received) == 2
    assert error.kind is ProviderErrorKind.BAD_KEY
    assert wrong not in str(error)
    assert wrong not in repr(error.args)
    assert [r for r in caplog.records if r.name.startswith("atom_desktop.assistant")]
    assert not [r for r in caplog.records if wrong in r.getMessage()]


def _fail(choice: ProviderChoice, key: str | None) -> ProviderError:

    async def run() -> None:
        async with new_client() as client:
            provider = build_provider(choice, client, key, retry=RetryPolicy(first_delay=0.01))
            await complete(provider, [ChatMessage("user", "hello")])

    with pytest.raises(ProviderError) as caught:
        asyncio.run(run())
    return caught.value
