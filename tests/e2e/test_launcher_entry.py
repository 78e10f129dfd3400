"""The launcher-entry options, as scripts/start and people run them.

Real processes under a fresh home directory: the installed entry's ``Exec``
is run as a desktop would run it, and removing the entry leaves nothing of
it behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from atom_desktop import __version__
from tests.support.agent_process import run_cli
from tests.support.desktop_file import validate_desktop_file

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        sys.platform in ("darwin", "win32"), reason="macOS and Windows have no such entry"
    ),
]

LAUNCHER = Path(sysconfig.get_path("scripts")) / "atom-desktop"


def fresh_home(home: Path) -> dict[str, str]:
    """This environment with ``home`` as HOME and none of the developer's XDG or ATOM settings."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ATOM_", "XDG_")) and k != "HOME"
    }
    env["HOME"] = str(home)
    return env


def launcher(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``atom-desktop`` launcher, to the end."""
    return subprocess.run(
        [str(LAUNCHER), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_install_then_uninstall_under_a_fresh_home(tmp_path: Path) -> None:
    assert LAUNCHER.is_file(), f"{LAUNCHER} is missing: install the project (./scripts/test)"
    home = tmp_path / "home"
    home.mkdir()
    env = fresh_home(home)
    share = home / ".local" / "share"

    first = launcher(env, "--install-desktop-entry")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    desktop = share / "applications" / "atom-desktop.desktop"
    assert str(desktop) in first.stdout
    installed = files_under(home)
    assert ".local/share/applications/atom-desktop.desktop" in installed
    assert ".local/share/icons/hicolor/48x48/apps/atom-desktop.png" in installed
    assert ".local/share/icons/hicolor/scalable/apps/atom-desktop.svg" in installed
    assert ".local/share/metainfo/org.atom.desktop.metainfo.xml" in installed
    # Nothing but the entry: no profile, no data, no caches of the desktop's tools.
    assert all(
        f.startswith(
            (".local/share/applications/", ".local/share/icons/", ".local/share/metainfo/")
        )
        for f in installed
    ), installed
    validate_desktop_file(desktop)

    # What a desktop does on a double click: run Exec (here with --version added).
    keys = dict(line.split("=", 1) for line in desktop.read_text().splitlines() if "=" in line)
    assert keys["Exec"] == str(LAUNCHER.resolve())
    started = subprocess.run(
        [keys["Exec"], "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"atom-desktop {__version__}"

    # Again, as every ./scripts/start does: quiet, and the files untouched.
    times = {f: (home / f).stat().st_mtime_ns for f in installed}
    again = run_cli(env, "--install-desktop-entry")
    assert again.returncode == 0, again.stderr
    assert (again.stdout, again.stderr) == ("", "")
    assert {f: (home / f).stat().st_mtime_ns for f in installed} == times

    removed = run_cli(env, "--uninstall-desktop-entry")
    assert removed.returncode == 0, removed.stderr
    for name in installed:
        assert f"  {home / name}" in removed.stdout.splitlines()
    assert f"  data: {share / 'atom-desktop'}" in removed.stdout.splitlines()
    assert f"  config: {home / '.config' / 'atom-desktop'}" in removed.stdout.splitlines()
    assert "rm -r " in removed.stdout
    assert files_under(home) == set()

    # Removing twice is not an error, and still says where the data is.
    twice = run_cli(env, "--uninstall-desktop-entry")
    assert twice.returncode == 0, twice.stderr
    assert twice.stdout.startswith("ATOM Desktop had no launcher entry to remove.")


def test_xdg_data_home_and_the_data_dir_option_are_followed(tmp_path: Path) -> None:
    env = fresh_home(tmp_path / "home")
    env["XDG_DATA_HOME"] = str(tmp_path / "share here")
    done = run_cli(env, "--install-desktop-entry")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "share here" / "applications" / "atom-desktop.desktop").is_file()
    assert not (tmp_path / "home").exists()
    gone = run_cli(env, "--uninstall-desktop-entry", "--data-dir", str(tmp_path / "profile"))
    assert gone.returncode == 0, gone.stderr
    assert f"  data: {tmp_path / 'profile'}" in gone.stdout.splitlines()
    assert files_under(tmp_path / "share here") == set()


def test_the_options_go_alone(tmp_path: Path) -> None:
    env = fresh_home(tmp_path)
    for args in (
        ["--install-desktop-entry", "serve"],
        ["--install-desktop-entry", "--uninstall-desktop-entry"],
        ["--uninstall-desktop-entry", "--background"],
    ):
        done = run_cli(env, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
    assert files_under(tmp_path) == set()
