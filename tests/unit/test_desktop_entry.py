"""resources/atom-desktop.desktop: valid, and consistent with the app it launches."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

from atom_desktop.resource_files import APP_ID
from tests.support.desktop_file import validate_desktop_file

ROOT = Path(__file__).resolve().parents[2]
DESKTOP_FILE = ROOT / "resources" / "atom-desktop.desktop"


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(DESKTOP_FILE.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser.items("Desktop Entry"))


def test_desktop_file_validate_reports_nothing() -> None:
    validate_desktop_file(DESKTOP_FILE)


def test_keys_describe_the_app() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "ATOM Desktop"
    assert entry["GenericName"]
    assert entry["Comment"]
    assert entry["Terminal"] == "false"
    assert "Utility" in entry["Categories"].split(";")
    assert entry["Keywords"].endswith(";")
    assert len([k for k in entry["Keywords"].split(";") if k]) >= 3
    # The window manager class the app sets, so docks group its windows here.
    assert entry["StartupWMClass"] == APP_ID


def test_exec_is_the_installed_launcher() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entry = desktop_entry()
    assert entry["Exec"] == APP_ID
    assert entry["Exec"] in scripts
    assert entry["TryExec"] == entry["Exec"]


def test_icon_named_exists_in_resources() -> None:
    icon = desktop_entry()["Icon"]
    assert icon == APP_ID
    icons = ROOT / "resources" / "icons"
    assert (icons / f"{icon}.svg").is_file()
    themed = sorted(icons.glob(f"hicolor/*/apps/{icon}.png"))
    assert len(themed) >= 8, themed
