"""The profile locator agrees with the settings it stands in for until they load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from atom_desktop.config.profile import load_profile, locate_profile
from atom_desktop.core.errors import ConfigError

# Each case: command-line values (paths relative to tmp_path), environment,
# config file text (in the config directory the case ends up using).
CASES: dict[str, tuple[dict[str, str], dict[str, str], str]] = {
    "defaults": ({}, {}, ""),
    "command line": ({"data_dir": "cli-data", "log_level": "DEBUG"}, {}, ""),
    "environment": ({}, {"ATOM_DATA_DIR": "{tmp}/env-data", "ATOM_LOG_LEVEL": "warning"}, ""),
    "environment in lower case": ({}, {"atom_data_dir": "{tmp}/lower-data"}, ""),
    "empty environment is unset": ({}, {"ATOM_DATA_DIR": ""}, 'data_dir = "{tmp}/file-data"\n'),
    "file": (
        {},
        {},
        'data_dir = "{tmp}/file-data"\nlog_dir = "{tmp}/file-logs"\nlog_level = "ERROR"\n',
    ),
    "command line over environment over file": (
        {"data_dir": "cli-data"},
        {"ATOM_DATA_DIR": "{tmp}/env-data", "ATOM_LOG_DIR": "{tmp}/env-logs"},
        'data_dir = "{tmp}/file-data"\nlog_dir = "{tmp}/file-logs"\n',
    ),
    "config directory from the environment": (
        {},
        {"ATOM_CONFIG_DIR": "{tmp}/elsewhere"},
        'data_dir = "{tmp}/file-data"\n',
    ),
    "home-relative data directory": ({}, {}, 'data_dir = "~/atom-data"\n'),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_locator_finds_what_the_settings_say(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_values, env, text = CASES[case]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    config_dir = Path(env.get("ATOM_CONFIG_DIR", "{tmp}/config").format(tmp=tmp_path))
    overrides: dict[str, object] = dict(cli_values)
    if "ATOM_CONFIG_DIR" not in env:
        overrides["config_dir"] = config_dir
    if text:
        config_dir.mkdir(parents=True)
        (config_dir / "config.toml").write_text(text.format(tmp=tmp_path))

    located = locate_profile(overrides)
    loaded = load_profile(overrides)

    assert located.paths == loaded.paths
    assert located.log_level == loaded.settings.log_level


def test_what_the_locator_cannot_read_is_left_to_the_settings_to_report(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("data_dir = [unclosed\n")

    located = locate_profile({"config_dir": config_dir})

    assert located.log_level == "INFO"
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile({"config_dir": config_dir})


def test_an_unknown_log_level_falls_back_to_info_until_the_settings_refuse_it(
    tmp_path: Path,
) -> None:
    located = locate_profile({"config_dir": tmp_path, "log_level": "chatty"})

    assert located.log_level == "INFO"
    with pytest.raises(ConfigError, match="log_level"):
        load_profile({"config_dir": tmp_path, "log_level": "chatty"})


def test_locating_a_profile_loads_no_pydantic() -> None:
    code = (
        "import sys; import atom_desktop.config.profile as p; p.locate_profile({}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', "
        "'pydantic_settings')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
