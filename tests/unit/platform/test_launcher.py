"""The launcher entry's files, written into a temporary ``XDG_DATA_HOME``.

The shipped files are the real ones, and the results are checked with the
real ``desktop-file-validate``, ``appstreamcli`` and ``gtk-update-icon-cache``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from atom_desktop import __version__
from atom_desktop.platform.autostart import LAUNCH_AGENT_LABEL
from atom_desktop.platform.launcher import (
    APPSTREAM_ID,
    METAINFO_FILE_NAME,
    LauncherEntry,
    LauncherSources,
    has_launcher_entry,
    installed_message,
    no_launcher_entry_message,
    removed_message,
    xdg_data_home,
)
from atom_desktop.resource_files import (
    APP_ICON_SIZES,
    APP_ID,
    app_icon_paths,
    desktop_entry_path,
    resource_path,
)
from tests.support.desktop_file import validate_desktop_file

ROOT = Path(__file__).resolve().parents[3]


def sources(command: list[str]) -> LauncherSources:
    """The shipped files, with ``command`` as the entry's command."""
    return LauncherSources(
        desktop_file=desktop_entry_path(),
        icons=app_icon_paths(),
        metainfo=resource_path(METAINFO_FILE_NAME),
        command=command,
    )


def entry_in(data_home: Path, program: str = "/opt/atom/bin/atom-desktop") -> LauncherEntry:
    return LauncherEntry(sources([program]), data_home=data_home)


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


def exec_argv(value: str) -> list[str]:
    """An ``Exec`` value back to argv, the way the Desktop Entry spec says a launcher reads it.

    Written out here rather than with shlex, whose double quotes keep the
    backslash before ``$`` and a backtick, where the spec drops it.
    """
    # First the string escaping (a doubled backslash is one), then the quoting.
    text = value.replace("\\\\", "\\").replace("%%", "%")
    words: list[str] = []
    word: str | None = None
    quoted = escaped = False
    for char in text:
        if escaped:
            assert char in '"`$\\', f"{char!r} may not follow a backslash in quotes"
            word = (word or "") + char
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
            word = word or ""
        elif char == " " and not quoted:
            if word is not None:
                words.append(word)
            word = None
        else:
            word = (word or "") + char
    assert not quoted and not escaped, f"unbalanced quoting in {value!r}"
    return [*words, *([word] if word is not None else [])]


def test_install_writes_the_entry_the_icons_and_the_metainfo(tmp_path: Path) -> None:
    entry = entry_in(tmp_path)
    written = entry.install()
    expected = {
        f"applications/{APP_ID}.desktop",
        f"icons/hicolor/scalable/apps/{APP_ID}.svg",
        *(f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png" for n in APP_ICON_SIZES),
        f"metainfo/{APPSTREAM_ID}.metainfo.xml",
    }
    installed = files_under(tmp_path)
    assert set(installed) == expected
    assert {p.relative_to(tmp_path).as_posix() for p in written} == expected
    for icon in app_icon_paths():
        folder = "scalable" if icon.suffix == ".svg" else icon.parent.parent.name
        assert installed[f"icons/hicolor/{folder}/apps/{icon.name}"] == icon.read_bytes()
    metainfo = resource_path(METAINFO_FILE_NAME).read_bytes()
    assert installed[f"metainfo/{METAINFO_FILE_NAME}"] == metainfo
    # The shipped entry with this installation's command; every other key as shipped.
    keys, shipped = desktop_keys(entry.desktop_path), desktop_keys(desktop_entry_path())
    assert keys["Exec"] == keys["TryExec"] == "/opt/atom/bin/atom-desktop"
    assert {k: v for k, v in keys.items() if "Exec" not in k} == {
        k: v for k, v in shipped.items() if "Exec" not in k
    }
    assert (entry.desktop_path.stat().st_mode & 0o777) == 0o644
    validate_desktop_file(entry.desktop_path)


@pytest.mark.parametrize(
    "program",
    [
        "/home/ann/My Apps/atom/.venv/bin/atom-desktop",
        '/srv/odd "quoted" $dir/back\\slash/100%/atom-desktop',
    ],
    ids=["spaces", "reserved-characters"],
)
def test_exec_starts_the_program_even_with_spaces_and_quotes_in_its_path(
    tmp_path: Path, program: str
) -> None:
    entry = entry_in(tmp_path, program)
    entry.install()
    keys = desktop_keys(entry.desktop_path)
    assert keys["Exec"].startswith('"')
    assert exec_argv(keys["Exec"]) == [program]
    assert keys["TryExec"].replace("\\\\", "\\") == program
    validate_desktop_file(entry.desktop_path)


def test_installing_again_changes_nothing_and_repairs_what_differs(tmp_path: Path) -> None:
    entry = entry_in(tmp_path)
    entry.install()
    before = {p: p.stat().st_mtime_ns for p in entry.files()}
    assert entry.install() == []
    assert {p: p.stat().st_mtime_ns for p in entry.files()} == before
    assert installed_message(entry, []) == ""
    # A damaged icon and a moved installation: exactly those files are rewritten.
    icon = tmp_path / "icons/hicolor/48x48/apps" / f"{APP_ID}.png"
    icon.write_bytes(b"not a png")
    moved = entry_in(tmp_path, "/elsewhere/bin/atom-desktop")
    assert set(moved.install()) == {icon, moved.desktop_path}
    assert desktop_keys(moved.desktop_path)["Exec"] == "/elsewhere/bin/atom-desktop"
    message = installed_message(moved, [icon, moved.desktop_path])
    assert str(moved.desktop_path) in message
    assert "--uninstall-desktop-entry" in message


def test_uninstall_removes_exactly_what_install_wrote(tmp_path: Path) -> None:
    # Another app's files in the same folders, and one of ours in a folder we never write.
    others = {
        "applications/other-app.desktop": b"[Desktop Entry]\n",
        "applications/mimeinfo.cache": b"[MIME Cache]\n",
        "icons/hicolor/48x48/apps/other-app.png": b"png",
        "icons/hicolor/512x512/apps/atom-desktop.png": b"a size we do not ship",
        "metainfo/org.example.other.metainfo.xml": b"<component/>",
        "atom-desktop/atom.db": b"the user's data",
    }
    for name, data in others.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    entry = entry_in(tmp_path)
    written = entry.install()
    removed = entry.uninstall()
    assert sorted(removed) == sorted(written) == sorted(entry.files())
    assert files_under(tmp_path) == others
    # The folders stay (other apps use them); nothing is left to remove a second time.
    assert (tmp_path / "icons/hicolor/scalable/apps").is_dir()
    assert entry.uninstall() == []


def test_removal_message_says_what_went_and_where_the_data_stays(tmp_path: Path) -> None:
    entry = entry_in(tmp_path)
    removed = entry.install()
    kept = {
        "data": tmp_path / "my data" / "atom-desktop",
        "config": tmp_path / "config",
        "logs": tmp_path / "my data" / "atom-desktop" / "logs",
    }
    message = removed_message(entry.uninstall(), kept)
    lines = message.splitlines()
    for path in removed:
        assert f"  {path}" in lines
    for what, path in kept.items():
        assert f"  {what}: {path}" in lines
    # The delete command is one a shell runs as printed, spaces and all.
    command = next(line for line in lines if "rm -r" in line).split("run: ", 1)[1]
    assert shlex.split(command) == ["rm", "-r", *(str(p) for p in kept.values())]
    assert "keyring" in message
    nothing = removed_message([], kept)
    assert nothing.startswith("ATOM Desktop had no launcher entry to remove.")
    assert f"  data: {kept['data']}" in nothing.splitlines()


def test_metainfo_passes_appstreamcli(tmp_path: Path) -> None:
    tool = shutil.which("appstreamcli")
    assert tool is not None, (
        "appstreamcli is missing (Debian's appstream; ./scripts/test installs it)"
    )
    entry = entry_in(tmp_path)
    entry.install()
    installed = tmp_path / "metainfo" / METAINFO_FILE_NAME
    # --pedantic: the notes too, so nothing is waved through.
    done = subprocess.run(
        [tool, "validate", "--no-net", "--pedantic", str(installed)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "✔ Validation was successful.", done.stdout


def test_metainfo_matches_the_app_and_the_project() -> None:
    # One reverse-DNS name for the app: AppStream's id and the macOS login agent's label.
    assert APPSTREAM_ID == LAUNCH_AGENT_LABEL
    root = ET.parse(resource_path(METAINFO_FILE_NAME)).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APPSTREAM_ID
    launchable = root.find("launchable")
    assert launchable is not None
    assert launchable.get("type") == "desktop-id"
    assert launchable.text == desktop_entry_path().name
    assert root.findtext("provides/binary") == APP_ID
    assert root.findtext("name") == desktop_keys(desktop_entry_path())["Name"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert root.findtext("project_license") == project["license"]
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("developer_name") == project["authors"][0]["name"]
    releases = root.findall("releases/release")
    assert releases, "the metainfo lists no release"
    assert releases[0].get("version") == __version__, "add the new version to the metainfo"
    assert root.find("content_rating") is not None
    assert "MIT License" in (ROOT / "LICENSE").read_text()


def test_existing_caches_are_refreshed_and_none_are_made(tmp_path: Path) -> None:
    tool = shutil.which("gtk-update-icon-cache")
    assert tool is not None, "gtk-update-icon-cache is missing (./scripts/test installs it)"
    fresh = entry_in(tmp_path / "fresh")
    fresh.install()
    assert fresh.refresh_caches() == []
    assert not (fresh.icon_theme_dir / "icon-theme.cache").exists()
    assert not (fresh.applications_dir / "mimeinfo.cache").exists()

    # A cache that was there before (made for another app's icon).
    entry = entry_in(tmp_path / "cached")
    other = entry.icon_theme_dir / "48x48" / "apps" / "other-app.png"
    other.parent.mkdir(parents=True)
    shutil.copyfile(app_icon_paths()[1], other)
    subprocess.run([tool, "-q", "-t", str(entry.icon_theme_dir)], check=True, timeout=60)
    cache = entry.icon_theme_dir / "icon-theme.cache"
    assert APP_ID.encode() not in cache.read_bytes()
    entry.install()
    assert entry.refresh_caches() == []
    assert APP_ID.encode() in cache.read_bytes()


def test_an_icon_outside_a_size_folder_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "icon.png"
    stray.write_bytes(b"png")
    plain = sources(["/opt/atom/bin/atom-desktop"])
    entry = LauncherEntry(
        LauncherSources(
            desktop_file=plain.desktop_file,
            icons=[stray],
            metainfo=plain.metainfo,
            command=plain.command,
        ),
        data_home=tmp_path / "share",
    )
    with pytest.raises(ValueError, match="<N>x<N>/apps/"):
        entry.install()


def test_xdg_data_home_ignores_a_relative_setting(tmp_path: Path) -> None:
    assert xdg_data_home(tmp_path, {}) == tmp_path / ".local/share"
    assert xdg_data_home(tmp_path, {"XDG_DATA_HOME": "rel/share"}) == tmp_path / ".local/share"
    assert xdg_data_home(tmp_path, {"XDG_DATA_HOME": "/x/share"}) == Path("/x/share")


def test_macos_and_windows_have_no_entry_and_say_so() -> None:
    assert has_launcher_entry("linux")
    assert has_launcher_entry("freebsd14")
    assert not has_launcher_entry("darwin")
    assert not has_launcher_entry("win32")
    assert "on macOS" in no_launcher_entry_message("darwin")
    assert "Applications folder" in no_launcher_entry_message("darwin")
    assert "on Windows" in no_launcher_entry_message("win32")
    assert "Start menu" in no_launcher_entry_message("win32")
