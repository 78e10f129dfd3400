from __future__ import annotations

from pathlib import Path

import pytest

from atom_desktop.config.settings import load_settings
from atom_desktop.core.errors import ConfigError


def _write_config(config_dir: Path, text: str) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"config_dir": tmp_path})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8084
    assert settings.key_storage == "auto"
    assert settings.allowed_origins == ()
    assert settings.encryption_key is None
    assert settings.config_file is None


def test_command_line_beats_environment_beats_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config(tmp_path, 'port = 9001\nlog_level = "debug"\nhost = "127.0.0.2"\n')
    monkeypatch.setenv("ATOM_PORT", "9002")
    monkeypatch.setenv("ATOM_LOG_LEVEL", "warning")
    settings = load_settings({"config_dir": tmp_path, "log_level": "ERROR"})
    assert settings.host == "127.0.0.2"  # only in the file
    assert settings.port == 9002  # environment over file
    assert settings.log_level == "ERROR"  # command line over both
    assert settings.config_file == (tmp_path / "config.toml").resolve()


def test_config_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(tmp_path / "cfg", "port = 9100\n")
    monkeypatch.setenv("ATOM_CONFIG_DIR", str(tmp_path / "cfg"))
    assert load_settings().port == 9100


def test_allowed_origins_comma_separated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOM_ALLOWED_ORIGINS", "https://app.atom.example, http://localhost:5173")
    settings = load_settings({"config_dir": tmp_path})
    assert settings.allowed_origins == ("https://app.atom.example", "http://localhost:5173")


def test_bad_environment_value_names_key_value_and_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOM_PORT", "99999")
    with pytest.raises(ConfigError) as info:
        load_settings({"config_dir": tmp_path})
    message = str(info.value)
    assert "port" in message
    assert "'99999'" in message
    assert "environment variable ATOM_PORT" in message
    assert info.value.exit_code == 2


def test_bad_file_value_names_key_value_and_file(tmp_path: Path) -> None:
    path = _write_config(tmp_path, 'key_storage = "sometimes"\n')
    with pytest.raises(ConfigError) as info:
        load_settings({"config_dir": tmp_path})
    message = str(info.value)
    assert "key_storage" in message
    assert "'sometimes'" in message
    assert str(path.resolve()) in message


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "prot = 8000\n")
    with pytest.raises(ConfigError, match="Unknown setting 'prot'") as info:
        load_settings({"config_dir": tmp_path})
    assert str(path.resolve()) in str(info.value)


def test_broken_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "port = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_settings({"config_dir": tmp_path})
    assert str(path.resolve()) in str(info.value)
    assert "line 1" in str(info.value)


def test_config_dir_cannot_come_from_the_file(tmp_path: Path) -> None:
    _write_config(tmp_path, 'config_dir = "/elsewhere"\n')
    with pytest.raises(ConfigError, match="cannot be set in the config file"):
        load_settings({"config_dir": tmp_path})


def test_bad_encryption_key_is_named_but_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOM_ENCRYPTION_KEY", "not-hex-but-secret-value")
    with pytest.raises(ConfigError) as info:
        load_settings({"config_dir": tmp_path})
    message = str(info.value)
    assert "encryption_key" in message
    assert "64 hexadecimal" in message
    assert "not-hex-but-secret-value" not in message


@pytest.mark.parametrize(
    "origin", ["app.atom.example", "ftp://x.example", "https://x.example/path", "https://"]
)
def test_bad_origin_is_refused(
    origin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOM_ALLOWED_ORIGINS", origin)
    with pytest.raises(ConfigError, match="allowed_origins"):
        load_settings({"config_dir": tmp_path})
