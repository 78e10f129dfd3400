"""Start at login on every platform's code path, in temporary directories.

The Linux and macOS paths write real files under ``tmp_path``; the Windows
path runs against :class:`InMemoryRegistry`, a stand-in for ``winreg`` that
only exists in these tests. Written files are read back with independent
parsers (configparser, plistlib, ``desktop-file-validate``, and decoders
written here from the Desktop Entry specification and Microsoft's
command-line rules), not with the code under test.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from atom_desktop.platform.autostart import (
    BACKGROUND_FLAG,
    RUN_KEY,
    RUN_VALUE_NAME,
    STARTUP_APPROVED_KEY,
    AutostartEntry,
    AutostartError,
    LaunchAgentAutostart,
    RunKeyAutostart,
    XdgAutostart,
    autostart_for_this_system,
    desktop_exec_line,
    launch_command,
)
from tests.support.desktop_file import validate_desktop_file

DEFAULT_COMMAND = ["/opt/atom/bin/python3", "-m", "atom_desktop", BACKGROUND_FLAG]
# Every character the Desktop Entry spec reserves, plus % (a field code) and
# a backslash, which is escaped twice.
AWKWARD_COMMAND = [
    "/home/jo doe/My Apps/atom $HOME/py`thon`",
    "-m",
    "atom_desktop",
    BACKGROUND_FLAG,
    "--label=100% \"quoted\" 'single' back\\slash ~ | & ; * ? # ( ) < >",
    "",
]
WINDOWS_COMMAND = [
    r"C:\Program Files\ATOM Desktop\atom-desktop.exe",
    BACKGROUND_FLAG,
]


# --- Linux (XDG autostart) --------------------------------------------------


def xdg_entry(tmp_path: Path, command: list[str] | None = None) -> AutostartEntry:
    return AutostartEntry(
        platform="linux",
        home=tmp_path / "home",
        env={
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        },
        command=command or DEFAULT_COMMAND,
    )


def read_desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    assert parser.sections() == ["Desktop Entry"]
    return dict(parser.items("Desktop Entry"))


def split_desktop_exec(value: str) -> list[str]:
    """Undo an Exec value: string escapes, then quoting, then ``%%``.

    Written from the Desktop Entry specification ("The Exec key"), and strict:
    a reserved character outside quotes is an error, as the spec says.
    """
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    unescaped, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            unescaped.append(escapes[value[i + 1]])
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text = "".join(unescaped)
    reserved = set(" \t\n\"'\\><~|&;$*?#()`")
    args: list[str] = []
    current: list[str] = []
    started = quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                assert text[i + 1] in '"`$\\', f"bad escape in {text!r}"
                current.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                current.append(c)
        elif c == " ":
            if started:
                args.append("".join(current))
                current, started = [], False
        elif c == '"':
            quoted = started = True
        else:
            assert c not in reserved, f"unquoted reserved {c!r} in {text!r}"
            current.append(c)
            started = True
        i += 1
    assert not quoted, f"unterminated quote in {text!r}"
    if started:
        args.append("".join(current))
    for arg in args:
        assert "%" not in arg.replace("%%", ""), f"field code in {arg!r}"
    return [arg.replace("%%", "%") for arg in args]


def test_linux_enable_writes_a_valid_autostart_entry(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path)
    assert not entry.is_enabled()
    entry.enable()
    path = tmp_path / "config" / "autostart" / "atom-desktop.desktop"
    assert entry.describe() == str(path)
    assert entry.is_enabled()
    keys = read_desktop_entry(path)
    assert keys["Type"] == "Application"
    assert keys["Name"] == "ATOM Desktop"
    assert keys["Icon"] == "atom-desktop"
    assert keys["Terminal"] == "false"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert "Hidden" not in keys
    assert split_desktop_exec(keys["Exec"]) == DEFAULT_COMMAND
    assert split_desktop_exec(keys["Exec"])[-1] == "--background"
    validate_desktop_file(path)
    # Readable by the desktop session, not secret.
    assert path.stat().st_mode & 0o777 == 0o644


def test_linux_exec_quoting_survives_every_reserved_character(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path, AWKWARD_COMMAND)
    entry.enable()
    path = Path(entry.describe())
    assert split_desktop_exec(read_desktop_entry(path)["Exec"]) == AWKWARD_COMMAND
    validate_desktop_file(path)


def test_exec_line_of_a_plain_command_is_unquoted() -> None:
    assert (
        desktop_exec_line(DEFAULT_COMMAND) == "/opt/atom/bin/python3 -m atom_desktop --background"
    )
    assert desktop_exec_line(["/a b/c"]) == '"/a b/c"'
    # A literal backslash is four in the file, a literal $ is \\$ (spec examples).
    assert desktop_exec_line(["/x", "a\\b"]) == '/x "a\\\\\\\\b"'
    assert desktop_exec_line(["/x", "$y"]) == '/x "\\\\$y"'


def test_linux_round_trip_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path)
    entry.enable()
    first = Path(entry.describe()).read_bytes()
    entry.enable()
    assert Path(entry.describe()).read_bytes() == first
    autostart_dir = tmp_path / "config" / "autostart"
    assert [p.name for p in autostart_dir.iterdir()] == ["atom-desktop.desktop"]
    entry.disable()
    assert not entry.is_enabled()
    assert list(autostart_dir.iterdir()) == []
    entry.disable()  # absent: nothing to do, no error
    assert not entry.is_enabled()


def test_linux_disable_when_never_enabled_creates_nothing(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path)
    entry.disable()
    assert not (tmp_path / "config").exists()


def test_linux_creates_the_autostart_dir_private(tmp_path: Path) -> None:
    xdg_entry(tmp_path).enable()
    assert (tmp_path / "config" / "autostart").stat().st_mode & 0o777 == 0o700


def test_linux_default_and_relative_xdg_config_home_mean_dot_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    expected = home / ".config" / "autostart" / "atom-desktop.desktop"
    for env in ({}, {"XDG_CONFIG_HOME": ""}, {"XDG_CONFIG_HOME": "relative/dir"}):
        entry = AutostartEntry("linux", home, env, DEFAULT_COMMAND)
        assert entry.describe() == str(expected)
    entry.enable()
    assert expected.is_file()


def test_linux_a_system_entry_is_overridden_by_hidden(tmp_path: Path) -> None:
    system = tmp_path / "etc-xdg" / "autostart" / "atom-desktop.desktop"
    system.parent.mkdir(parents=True)
    system.write_text("[Desktop Entry]\nType=Application\nName=ATOM Desktop\nExec=atom-desktop\n")
    entry = xdg_entry(tmp_path)
    assert entry.is_enabled()  # the system-wide entry counts while the user has none
    entry.disable()
    user = Path(entry.describe())
    keys = read_desktop_entry(user)
    assert keys["Hidden"] == "true"
    assert not entry.is_enabled()
    validate_desktop_file(user)
    entry.enable()
    assert entry.is_enabled()
    assert "Hidden" not in read_desktop_entry(user)
    assert system.is_file()  # never touched


@pytest.mark.parametrize(
    "text",
    [
        "[Desktop Entry]\nExec=atom-desktop\nX-GNOME-Autostart-enabled=false\n",
        "[Desktop Entry]\nExec=atom-desktop\nHidden=true\n",
        "not a desktop file at all\n",
        "[Desktop Entry]\nName=no Exec\n",
    ],
)
def test_linux_entries_that_start_nothing_read_as_disabled(tmp_path: Path, text: str) -> None:
    entry = xdg_entry(tmp_path)
    path = Path(entry.describe())
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert not entry.is_enabled()
    entry.enable()
    assert entry.is_enabled()


def test_linux_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path)
    # A file where the directory should be fails even for root.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "autostart").write_text("in the way")
    with pytest.raises(AutostartError) as caught:
        entry.enable()
    message = str(caught.value)
    assert "Could not turn on start at login" in message
    assert str(tmp_path / "config" / "autostart") in message
    assert caught.value.hint is not None
    assert "folder you own" in caught.value.hint


def test_linux_generated_file_passes_desktop_file_validate(tmp_path: Path) -> None:
    entry = xdg_entry(tmp_path, launch_command(python="/usr/bin/python3", platform="linux"))
    entry.enable()
    validate_desktop_file(Path(entry.describe()))


# --- macOS (launchd agent) --------------------------------------------------


def mac_entry(tmp_path: Path, command: list[str] | None = None) -> AutostartEntry:
    return AutostartEntry("darwin", tmp_path / "home", {}, command or DEFAULT_COMMAND)


def test_macos_enable_writes_a_launch_agent(tmp_path: Path) -> None:
    entry = mac_entry(tmp_path, AWKWARD_COMMAND)
    assert isinstance(entry.backend, LaunchAgentAutostart)
    assert not entry.is_enabled()
    entry.enable()
    path = tmp_path / "home" / "Library" / "LaunchAgents" / "org.atom.desktop.plist"
    assert entry.describe() == str(path)
    with path.open("rb") as handle:
        data = plistlib.load(handle)
    assert data == {
        "Label": "org.atom.desktop",
        "ProgramArguments": AWKWARD_COMMAND,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert path.read_bytes().startswith(b"<?xml")
    assert entry.is_enabled()


def test_macos_round_trip_and_idempotence(tmp_path: Path) -> None:
    entry = mac_entry(tmp_path)
    entry.enable()
    first = Path(entry.describe()).read_bytes()
    entry.enable()
    assert Path(entry.describe()).read_bytes() == first
    assert [p.name for p in Path(entry.describe()).parent.iterdir()] == ["org.atom.desktop.plist"]
    entry.disable()
    assert not entry.is_enabled()
    assert not Path(entry.describe()).exists()
    entry.disable()


@pytest.mark.parametrize(
    "content",
    [
        b"garbage",
        plistlib.dumps({"Label": "org.atom.desktop", "RunAtLoad": False}),
        plistlib.dumps({"Label": "org.atom.desktop", "RunAtLoad": True, "Disabled": True}),
    ],
)
def test_macos_agents_that_do_not_run_read_as_disabled(tmp_path: Path, content: bytes) -> None:
    entry = mac_entry(tmp_path)
    path = Path(entry.describe())
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert not entry.is_enabled()
    entry.enable()
    assert entry.is_enabled()


def test_macos_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "home" / "Library").mkdir(parents=True)
    (tmp_path / "home" / "Library" / "LaunchAgents").write_text("in the way")
    with pytest.raises(AutostartError, match="Could not turn on start at login"):
        mac_entry(tmp_path).enable()


# --- Windows (HKCU Run key, through the in-memory stand-in) -----------------


class InMemoryRegistry:
    """A test stand-in for ``winreg``: HKEY_CURRENT_USER as a dict of dicts.

    It implements :class:`atom_desktop.platform.autostart.RegistryValues` the way the
    real registry behaves for us: reading an absent key or value gives None,
    deleting one is fine, writing creates the key. ``fail_with`` makes every
    call raise, like a registry that refuses access.
    """

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str | bytes]] = {}
        self.fail_with: OSError | None = None

    def read(self, key: str, name: str) -> str | bytes | None:
        self._maybe_fail()
        return self.keys.get(key, {}).get(name)

    def write_string(self, key: str, name: str, value: str) -> None:
        self._maybe_fail()
        self.keys.setdefault(key, {})[name] = value

    def delete(self, key: str, name: str) -> None:
        self._maybe_fail()
        self.keys.get(key, {}).pop(name, None)

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with


def split_windows_command_line(line: str) -> list[str]:
    """Split like CommandLineToArgvW / the Microsoft C runtime.

    From Microsoft's "Parsing C command-line arguments": the program name ends
    at the first space unless quoted (no backslash escapes in it); then
    2n backslashes before a quote give n backslashes and toggle quoting,
    2n+1 backslashes before a quote give n backslashes and a literal quote,
    other backslashes are literal, and spaces outside quotes separate.
    """
    if line.startswith('"'):
        end = line.index('"', 1)
        program, rest = line[1:end], line[end + 1 :]
    else:
        program, _, rest = line.partition(" ")
        rest = " " + rest if rest else ""
    assert rest == "" or rest[0] in " \t", f"junk after the program name in {line!r}"
    args = [program]
    current: list[str] = []
    started = quoted = False
    i = 0
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            n = 0
            while i < len(rest) and rest[i] == "\\":
                n += 1
                i += 1
            if i < len(rest) and rest[i] == '"':
                current.append("\\" * (n // 2))
                if n % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * n)
            started = True
            continue
        if c == '"':
            quoted = not quoted
            started = True
        elif c in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(c)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args


def windows_entry(registry: InMemoryRegistry, command: list[str] | None = None) -> AutostartEntry:
    return AutostartEntry(
        platform="win32",
        home=Path("C:/Users/jo"),
        env={},
        command=command or WINDOWS_COMMAND,
        registry=registry,
    )


def test_windows_enable_writes_the_run_value_quoted() -> None:
    registry = InMemoryRegistry()
    entry = windows_entry(registry)
    assert isinstance(entry.backend, RunKeyAutostart)
    assert not entry.is_enabled()
    entry.enable()
    assert entry.is_enabled()
    assert RUN_KEY == r"Software\Microsoft\Windows\CurrentVersion\Run"
    assert RUN_VALUE_NAME == "ATOM Desktop"
    value = registry.keys[RUN_KEY]["ATOM Desktop"]
    assert value == r'"C:\Program Files\ATOM Desktop\atom-desktop.exe" --background'
    assert entry.describe() == (
        r'HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run (value "ATOM Desktop")'
    )


@pytest.mark.parametrize(
    "command",
    [
        WINDOWS_COMMAND,
        [
            r"C:\Users\Jo Doe\AppData\Local\Programs\Python\Python311\pythonw.exe",
            "-m",
            "atom_desktop",
            BACKGROUND_FLAG,
        ],
        [
            r"C:\py\pythonw.exe",
            "-m",
            "atom_desktop",
            BACKGROUND_FLAG,
            r"--data-dir=D:\My Data\atom\\",
            'say "hi"',
            "",
            "two  spaces",
            "back\\\\slash\\",
        ],
    ],
)
def test_windows_command_line_round_trips(command: list[str]) -> None:
    registry = InMemoryRegistry()
    windows_entry(registry, command).enable()
    value = registry.keys[RUN_KEY][RUN_VALUE_NAME]
    assert isinstance(value, str)
    assert split_windows_command_line(value) == command


def test_windows_round_trip_idempotence_and_absent_disable() -> None:
    registry = InMemoryRegistry()
    entry = windows_entry(registry)
    entry.disable()  # nothing there: fine
    entry.enable()
    entry.enable()
    assert registry.keys[RUN_KEY] == {RUN_VALUE_NAME: subprocess.list2cmdline(WINDOWS_COMMAND)}
    entry.disable()
    assert not entry.is_enabled()
    assert registry.keys[RUN_KEY] == {}
    entry.disable()


def test_windows_leaves_other_run_values_alone() -> None:
    registry = InMemoryRegistry()
    registry.write_string(RUN_KEY, "OneDrive", r'"C:\OneDrive.exe" /background')
    entry = windows_entry(registry)
    entry.enable()
    entry.disable()
    assert registry.keys[RUN_KEY] == {"OneDrive": r'"C:\OneDrive.exe" /background'}


def test_windows_task_manager_switch_off_is_honoured_and_cleared_by_enable() -> None:
    registry = InMemoryRegistry()
    entry = windows_entry(registry)
    entry.enable()
    # What Task Manager writes when the user switches the entry off.
    registry.keys.setdefault(STARTUP_APPROVED_KEY, {})[RUN_VALUE_NAME] = b"\x03" + bytes(11)
    assert not entry.is_enabled()
    entry.enable()
    assert entry.is_enabled()
    assert RUN_VALUE_NAME not in registry.keys[STARTUP_APPROVED_KEY]
    # "Allowed" (02) does not count as off.
    registry.keys[STARTUP_APPROVED_KEY][RUN_VALUE_NAME] = b"\x02" + bytes(11)
    assert entry.is_enabled()
    entry.disable()
    assert registry.keys[STARTUP_APPROVED_KEY] == {}


def test_windows_registry_refusal_is_a_clear_error() -> None:
    registry = InMemoryRegistry()
    registry.fail_with = PermissionError(13, "Access is denied")
    entry = windows_entry(registry)
    with pytest.raises(AutostartError) as caught:
        entry.enable()
    assert "Could not turn on start at login" in str(caught.value)
    assert "Access is denied" in str(caught.value)
    assert RUN_KEY in str(caught.value)
    with pytest.raises(AutostartError, match="Could not read"):
        entry.is_enabled()


def test_windows_without_a_registry_stand_in_fails_clearly_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No winreg module, as everywhere but on Windows (forced, so this runs anywhere).
    monkeypatch.setitem(sys.modules, "winreg", None)
    entry = AutostartEntry("win32", tmp_path, {}, WINDOWS_COMMAND)
    with pytest.raises(AutostartError, match="Windows registry is not available"):
        entry.is_enabled()


# --- The command and the factory --------------------------------------------


def test_launch_command_defaults_to_this_python_in_the_background() -> None:
    assert launch_command(platform="linux") == [
        sys.executable,
        "-m",
        "atom_desktop",
        "--background",
    ]
    assert launch_command(python="/p/python3", platform="darwin") == [
        "/p/python3",
        "-m",
        "atom_desktop",
        "--background",
    ]


def test_launch_command_prefers_a_given_launcher() -> None:
    assert launch_command(launcher="/usr/bin/atom-desktop") == [
        "/usr/bin/atom-desktop",
        "--background",
    ]


def test_launch_command_of_a_frozen_build_is_the_executable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_command(platform="win32") == [sys.executable, "--background"]


def test_launch_command_on_windows_avoids_a_console_window(tmp_path: Path) -> None:
    python = tmp_path / "python.exe"
    python.write_bytes(b"")
    # No pythonw.exe beside it: keep python.exe rather than name a missing file.
    assert launch_command(python=str(python), platform="win32")[0] == str(python)
    (tmp_path / "pythonw.exe").write_bytes(b"")
    assert launch_command(python=str(python), platform="win32") == [
        str(tmp_path / "pythonw.exe"),
        "-m",
        "atom_desktop",
        "--background",
    ]
    # Other platforms are never rewritten.
    assert launch_command(python=str(python), platform="linux")[0] == str(python)


def test_commands_that_cannot_work_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AutostartError, match="no program"):
        xdg_entry(tmp_path, [""])
    with pytest.raises(AutostartError, match="control character"):
        xdg_entry(tmp_path, ["/a\nb", "--background"])
    with pytest.raises(TypeError):
        AutostartEntry("linux", tmp_path, {}, "atom-desktop --background")


def test_platforms_pick_their_mechanism(tmp_path: Path) -> None:
    assert isinstance(xdg_entry(tmp_path).backend, XdgAutostart)
    assert isinstance(
        AutostartEntry("freebsd14", tmp_path, {}, DEFAULT_COMMAND).backend, XdgAutostart
    )
    assert isinstance(mac_entry(tmp_path).backend, LaunchAgentAutostart)
    assert isinstance(windows_entry(InMemoryRegistry()).backend, RunKeyAutostart)


def test_autostart_for_this_system_uses_the_real_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")  # the XDG path, whatever runs the tests
    # conftest points XDG_CONFIG_HOME into tmp_path; HOME too, to be sure.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-system-dirs"))
    entry = autostart_for_this_system(DEFAULT_COMMAND)
    expected = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "atom-desktop.desktop"
    assert expected.is_relative_to(tmp_path)
    assert entry.describe() == str(expected)
    entry.enable()
    assert expected.is_file()
    assert entry.is_enabled()
    entry.disable()
    assert not expected.exists()


def test_modules_import_without_qt() -> None:
    # The layer rule: only atom_desktop.gui imports PySide6.
    code = (
        "import sys, atom_desktop.platform.autostart, atom_desktop.resource_files\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
