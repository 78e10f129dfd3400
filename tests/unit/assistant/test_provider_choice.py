"""The provider settings: kind, base URL and model (never a key), built into a provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atom_desktop.assistant.providers.choice import ProviderChoice
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.keys import key_entry
from atom_desktop.config.settings import Settings, load_settings
from atom_desktop.core.errors import ConfigError


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path / "d", config_dir=tmp_path / "c", **values)


def test_no_provider_means_rules_only(tmp_path: Path) -> None:
    assert ProviderChoice.from_settings(_settings(tmp_path)) is None


def test_each_kind_has_its_own_default_address(tmp_path: Path) -> None:
    anthropic = ProviderChoice.from_settings(
        _settings(tmp_path, assistant_provider="anthropic", assistant_model="claude-x")
    )
    assert anthropic == ProviderChoice("anthropic", "claude-x", "https://api.anthropic.com")
    ollama = ProviderChoice.from_settings(
        _settings(
            tmp_path,
            assistant_provider="openai_compatible",
            assistant_model="llama3.2",
            assistant_base_url="http://127.0.0.1:11434/v1",
            assistant_structured_output="tools",
        )
    )
    assert ollama == ProviderChoice(
        "openai_compatible", "llama3.2", "http://127.0.0.1:11434/v1", "tools"
    )


def test_a_provider_without_a_model_says_to_choose_one(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as caught:
        ProviderChoice.from_settings(_settings(tmp_path, assistant_provider="anthropic"))
    assert caught.value.kind is ProviderErrorKind.MODEL_NOT_FOUND
    assert "Settings → Assistant" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/v1", "localhost:11434", "https://user:pw@example.com/v1"],
    ids=["scheme", "no-scheme", "credentials"],
)
def test_a_base_url_must_be_an_http_address(tmp_path: Path, url: str) -> None:
    with pytest.raises((ValueError, ConfigError)):
        _settings(tmp_path, assistant_base_url=url)


def test_settings_have_no_place_for_a_provider_key() -> None:
    assert not [name for name in Settings.model_fields if "assistant" in name and "key" in name]


def test_a_key_belongs_to_one_server() -> None:
    assert key_entry("openai_compatible", "https://API.openai.com/v1/") == (
        "assistant-key:openai_compatible:https://api.openai.com"
    )
    assert key_entry("openai_compatible", "http://127.0.0.1:1234/v1") != key_entry(
        "openai_compatible", "http://127.0.0.1:11434/v1"
    )


def test_the_provider_is_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'assistant_provider = "openai_compatible"\n'
        'assistant_base_url = "http://127.0.0.1:11434/v1"\n'
        'assistant_model = "llama3.2"\n',
        encoding="utf-8",
    )
    choice = ProviderChoice.from_settings(load_settings({"config_dir": tmp_path}))
    assert choice == ProviderChoice("openai_compatible", "llama3.2", "http://127.0.0.1:11434/v1")


def test_a_key_written_in_the_config_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'assistant_provider = "anthropic"\nassistant_api_key = "sk-ant-in-a-file-0000000"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings({"config_dir": tmp_path})
    assert "assistant_api_key" in str(caught.value)
    assert "sk-ant-in-a-file" not in str(caught.value)
