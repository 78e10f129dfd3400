"""ATOM_API_TOKEN of a shape the API would refuse is refused at the start, saying the shape."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from atom_desktop.config.settings import load_settings
from atom_desktop.core.errors import ConfigError
from atom_desktop.secrets.api_token import looks_like_token, new_token


@pytest.mark.parametrize(
    "value",
    [
        "my-own-long-secret-for-the-ci-runner-0123456789",  # no prefix
        "atom_short",  # too short to be a secret
        "atom_" + "x" * 31,
        "atom_" + "x" * 196,  # longer than the API reads
        "atom_" + "x" * 40 + " y",  # not URL-safe
        "atom_" + "é" * 40,
    ],
)
def test_a_token_of_another_shape_is_refused_naming_the_shape_never_the_value(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOM_API_TOKEN", value)
    with pytest.raises(ConfigError) as info:
        load_settings({"config_dir": tmp_path})
    message = str(info.value)
    assert "ATOM_API_TOKEN" in message
    assert "'atom_' followed by 32 to 195 letters, digits, '-' or '_'" in message
    assert value not in message


@pytest.mark.parametrize(
    "value",
    [new_token(), "atom_" + secrets.token_urlsafe(24), "atom_" + "Z-_9" * 48 + "abc"],
    # Named, not shown: the random ones would name the test differently each
    # time it is collected (a parallel run collects it once per worker).
    ids=["made-by-the-agent", "random-24-bytes", "longest"],
)
def test_a_token_the_api_accepts_is_taken(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOM_API_TOKEN", value)
    settings = load_settings({"config_dir": tmp_path})
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == value
    # The shape the setting takes is one the API's check lets through.
    assert looks_like_token(value)
