"""Settings → Assistant on a real agent: saved to config.toml (never the key), applied at
once, and tested against the fake OpenAI-compatible server (a fake, see its module)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from atom_desktop.assistant.providers.keys import key_entry
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.pages.assistant_settings import AssistantSettingsBox
from tests.gui.conftest import WAIT_MS
from tests.support import fake_openai_server as fake
from tests.support.scripted_http_server import ScriptedServer
from tests.support.secret_service import SecretServiceSession

SECRET = "sk-test-never-in-the-file-0123456789"


@pytest.fixture
def provider() -> Iterator[ScriptedServer]:
    with fake.fake_openai_server(None) as server:
        yield server


def settings_box(qtbot: QtBot, desktop: DesktopApp) -> AssistantSettingsBox:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    window.show_assistant_settings()
    assert window.page_name() == "Settings"
    return window.settings_page.assistant


def choose(box: AssistantSettingsBox, server: ScriptedServer, model: str = fake.MODEL) -> None:
    box.provider.setCurrentIndex(box.provider.findData("openai_compatible"))
    box.base_url.setText(server.base_url + "/v1")
    box.model.setCurrentText(model)


def test_save_writes_the_provider_and_model_never_the_key_and_applies_them(
    qtbot: QtBot, desktop: DesktopApp, provider: ScriptedServer
) -> None:
    box = settings_box(qtbot, desktop)
    assert box.provider.currentData() == "none"
    assert not box.model.isEnabled()
    choose(box, provider)
    assert box.structured.isEnabled()
    box.key.setText(SECRET)
    box.share_tasks.setChecked(True)
    box.auto["notify"].setChecked(True)
    assert box.auto_warning.isVisibleTo(box)
    assert "shell" not in box.auto_warning.text().lower()
    box.auto["shell"].setChecked(True)
    assert "dangerous" in box.auto_warning.text()
    box.auto["shell"].setChecked(False)
    box.save_button.click()

    config_file = desktop.host.paths.config_file
    text = config_file.read_text()
    assert SECRET not in text
    values = tomllib.loads(text)
    assert values["assistant_provider"] == "openai_compatible"
    assert values["assistant_model"] == fake.MODEL
    assert values["assistant_base_url"] == provider.base_url + "/v1"
    assert values["assistant_share_tasks"] is True
    assert values["assistant_auto_kinds"] == ["notify"]
    runtime = desktop.host.runtime
    assert runtime is not None
    qtbot.waitUntil(lambda: runtime.assistant.config.provider is not None, timeout=WAIT_MS)
    config = runtime.assistant.config
    assert config.provider is not None
    assert config.provider.model == fake.MODEL
    assert config.consent.tasks
    assert config.auto_kinds == frozenset({"notify"})
    # The test profile has no usable keyring: the key is refused, not written elsewhere.
    qtbot.waitUntil(lambda: "key was not" in box.note.text(), timeout=WAIT_MS)
    assert box.key.text() == ""
    assert SECRET not in config_file.read_text()
    assert SECRET not in box.note.text()


def test_test_shows_the_models_answer(
    qtbot: QtBot, desktop: DesktopApp, provider: ScriptedServer
) -> None:
    box = settings_box(qtbot, desktop)
    choose(box, provider)
    provider.add(fake.stream(["rea", "dy"]))
    box.test_button.click()
    qtbot.waitUntil(lambda: "ready" in box.test_result.text(), timeout=WAIT_MS)
    assert box.test_result.text().startswith("It works")


def test_a_model_the_server_does_not_have_is_named_with_the_hint(
    qtbot: QtBot, desktop: DesktopApp, provider: ScriptedServer
) -> None:
    box = settings_box(qtbot, desktop)
    choose(box, provider, model="no-such-model")
    provider.add(fake.model_not_found("no-such-model"))
    box.test_button.click()
    qtbot.waitUntil(lambda: "was not found" in box.test_result.text(), timeout=WAIT_MS)
    assert "'no-such-model'" in box.test_result.text()
    assert "Check the model name" in box.test_result.text()


def test_load_models_fills_the_model_list(
    qtbot: QtBot, desktop: DesktopApp, provider: ScriptedServer
) -> None:
    box = settings_box(qtbot, desktop)
    choose(box, provider, model="")
    provider.add(fake.models("llama-3-8b", "qwen-2.5"))
    box.load_models_button.click()
    qtbot.waitUntil(lambda: box.model.count() == 2, timeout=WAIT_MS)
    assert [box.model.itemText(i) for i in range(2)] == ["llama-3-8b", "qwen-2.5"]
    assert box.model.currentText() == "llama-3-8b"
    assert box.test_result.text() == "2 models offered."


def test_save_says_when_the_environment_wins_over_the_file(
    qtbot: QtBot, desktop: DesktopApp, provider: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = settings_box(qtbot, desktop)
    monkeypatch.setenv("ATOM_ASSISTANT_MODEL", "from-the-environment")
    choose(box, provider)
    box.save_button.click()
    assert "ATOM_ASSISTANT_MODEL" in box.note.text()


def test_the_key_goes_to_the_keyring_is_used_and_can_be_forgotten(
    qtbot: QtBot, keyring_desktop: DesktopApp, secret_service: SecretServiceSession
) -> None:
    with fake.fake_openai_server(SECRET) as server:
        box = settings_box(qtbot, keyring_desktop)
        choose(box, server)
        qtbot.waitUntil(lambda: "No key stored" in box.key_state.text(), timeout=WAIT_MS)
        box.key.setText(SECRET)
        box.save_button.click()
        qtbot.waitUntil(lambda: "A key is stored" in box.key_state.text(), timeout=WAIT_MS)
        assert box.key.text() == ""  # never shown again
        assert SECRET not in keyring_desktop.host.paths.config_file.read_text()
        runtime = keyring_desktop.host.runtime
        assert runtime is not None
        entry = key_entry("openai_compatible", server.base_url + "/v1")
        assert runtime.vault.get(entry) == SECRET
        # Test uses the stored key (the fake refuses a request without it).
        server.add(fake.stream(["ready"]))
        box.test_button.click()
        qtbot.waitUntil(lambda: "ready" in box.test_result.text(), timeout=WAIT_MS)
        assert server.received[-1].headers["authorization"] == f"Bearer {SECRET}"
        assert box.forget_key_button.isEnabled()
        box.forget_key_button.click()
        qtbot.waitUntil(lambda: "No key stored" in box.key_state.text(), timeout=WAIT_MS)
        assert runtime.vault.get(entry) is None
