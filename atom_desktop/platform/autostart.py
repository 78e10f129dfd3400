"""Start at login: one switch with the same interface on Linux, macOS and Windows.

- Linux and other freedesktop systems: ``$XDG_CONFIG_HOME/autostart/atom-desktop.desktop``
  (the XDG Autostart specification).
- macOS: ``~/Library/LaunchAgents/org.atom.desktop.plist``, a per-user launchd
  agent that runs at login.
- Windows: the value ``ATOM Desktop`` under
  ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

Everything a platform's behaviour depends on is an explicit input: the
command to launch, the home directory, the environment and, on Windows, the
registry (behind :class:`RegistryValues`). Tests therefore exercise every
platform's code path on any machine, and nothing here touches the real system
until :func:`autostart_for_this_system` builds an :class:`AutostartEntry` for
it. No Qt: the Settings page calls this module.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol, TypeVar

from atom_desktop.core.errors import AtomError

#: Name of the autostart desktop file (and of the installed launcher).
APP_ID: Final = "atom-desktop"

#: The option that starts the app in the tray, without opening its window.
BACKGROUND_FLAG: Final = "--background"

#: The launchd label, which is also the LaunchAgent file's name.
LAUNCH_AGENT_LABEL: Final = "org.atom.desktop"

#: Registry key (under HKEY_CURRENT_USER) whose values Windows runs at login.
RUN_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"

#: Where Task Manager's "Startup apps" page records that a Run entry was
#: switched off; the Run value itself stays in place when that happens.
STARTUP_APPROVED_KEY: Final = (
    r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
)

#: Name of our value under :data:`RUN_KEY` (what Task Manager shows).
RUN_VALUE_NAME: Final = "ATOM Desktop"

# Characters the Desktop Entry specification reserves in Exec arguments: an
# argument containing any of them must be quoted.
_EXEC_RESERVED: Final = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Inside a quoted Exec argument these are escaped with a backslash.
_EXEC_ESCAPED_IN_QUOTES: Final = frozenset('"`$\\')

_T = TypeVar("_T")


class AutostartError(AtomError):
    """Start at login could not be read or changed (the message says where and why)."""


class Autostart(Protocol):
    """Start at login for one platform."""

    def is_enabled(self) -> bool:
        """Whether the app is set to start when the user logs in."""
        ...

    def enable(self) -> None:
        """Start the app at login with this object's command; safe to repeat."""
        ...

    def disable(self) -> None:
        """Do not start the app at login; fine when it was not enabled."""
        ...

    def describe(self) -> str:
        """Where the setting lives, for the Settings page (a path or a registry key)."""
        ...


class RegistryValues(Protocol):
    """Values under keys of HKEY_CURRENT_USER: the little of ``winreg`` we need.

    :class:`WinregValues` is the real one; tests use an in-memory stand-in, so
    the Windows code path runs on every platform.
    """

    def read(self, key: str, name: str) -> str | bytes | None:
        """The value ``name`` under ``key``, or ``None`` when the key or value is absent."""
        ...

    def write_string(self, key: str, name: str, value: str) -> None:
        """Create or replace ``name`` under ``key`` (created if needed) as a REG_SZ string."""
        ...

    def delete(self, key: str, name: str) -> None:
        """Remove ``name`` under ``key``; an absent key or value is not an error."""
        ...


def launch_command(
    *,
    launcher: str | None = None,
    python: str | None = None,
    platform: str | None = None,
) -> list[str]:
    """The argv that starts the app in the background at login.

    ``launcher`` is an installed or frozen ``atom-desktop`` executable; when it
    is not given and this is a frozen build, the running executable is the
    launcher. Otherwise the app runs as ``python -m atom_desktop`` with
    ``python`` (default: this interpreter), which keeps working for an
    editable install whose scripts directory is not on the login PATH.
    """
    platform = sys.platform if platform is None else platform
    if launcher is None and getattr(sys, "frozen", False):
        launcher = sys.executable
    if launcher:
        return [launcher, BACKGROUND_FLAG]
    python = python if python is not None else sys.executable
    if not python:
        raise AutostartError(
            "Cannot tell which program starts ATOM Desktop: "
            "the Python interpreter's path is unknown.",
            hint="Start ATOM Desktop with its `atom-desktop` launcher and try again.",
        )
    if platform == "win32":
        # python.exe would open a console window at every login; pythonw.exe
        # (installed beside it) runs the same interpreter without one.
        console = Path(python)
        windowless = console.with_name("pythonw.exe")
        if console.name.lower() == "python.exe" and windowless.is_file():
            python = str(windowless)
    return [python, "-m", "atom_desktop", BACKGROUND_FLAG]


class AutostartEntry:
    """Start at login for ``platform`` (a ``sys.platform`` value), launching ``command``.

    The one object the app uses: it picks the platform's mechanism
    (:attr:`backend`) and forwards to it. ``home`` and ``env`` locate the
    files on Linux and macOS; ``registry`` is only used on Windows and
    defaults to the real registry (which exists only there).
    """

    def __init__(
        self,
        platform: str,
        home: Path,
        env: Mapping[str, str],
        command: Sequence[str],
        registry: RegistryValues | None = None,
    ) -> None:
        self.platform = platform
        self.backend: Autostart
        if platform == "win32":
            self.backend = RunKeyAutostart(
                command, registry=registry if registry is not None else WinregValues()
            )
        elif platform == "darwin":
            self.backend = LaunchAgentAutostart(command, home=home)
        else:
            # Every other desktop Unix (Linux, the BSDs, ...) follows the XDG spec.
            self.backend = XdgAutostart(command, home=home, env=env)

    def is_enabled(self) -> bool:
        """Whether the app is set to start when the user logs in."""
        return self.backend.is_enabled()

    def enable(self) -> None:
        """Start the app at login; safe to repeat (it also refreshes the command)."""
        self.backend.enable()

    def disable(self) -> None:
        """Do not start the app at login; fine when it was not enabled."""
        self.backend.disable()

    def describe(self) -> str:
        """Where the setting lives, for the Settings page (a path or a registry key)."""
        return self.backend.describe()


def autostart_for_this_system(command: Sequence[str]) -> AutostartEntry:
    """Start at login for the running system and user, launching ``command``.

    ``command`` is normally :func:`launch_command`'s result.
    """
    return AutostartEntry(sys.platform, Path.home(), os.environ, command)


class XdgAutostart:
    """An XDG autostart entry: ``$XDG_CONFIG_HOME/autostart/atom-desktop.desktop``."""

    def __init__(self, command: Sequence[str], *, home: Path, env: Mapping[str, str]) -> None:
        self.command = _checked_command(command)
        # The spec says relative XDG_* paths are invalid and must be ignored.
        config_home = env.get("XDG_CONFIG_HOME", "")
        base = Path(config_home) if Path(config_home).is_absolute() else home / ".config"
        self.path = base / "autostart" / f"{APP_ID}.desktop"
        config_dirs = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        self.system_paths = [
            Path(d) / "autostart" / f"{APP_ID}.desktop"
            for d in config_dirs.split(":")
            if d and Path(d).is_absolute()
        ]

    def is_enabled(self) -> bool:
        """Whether the entry that counts (the user's, else a system one) is active."""
        # A file in the user's directory hides a same-named system file.
        for path in [self.path, *self.system_paths]:
            entry = self._read(path)
            if entry is not None:
                return _xdg_entry_active(entry)
        return False

    def enable(self) -> None:
        """Write the user's autostart entry (replacing any earlier one)."""
        self._write(self._entry(hidden=False), "turn on")

    def disable(self) -> None:
        """Remove the user's entry, or hide a system-wide one behind ``Hidden=true``."""
        try:
            system_entry = any(p.is_file() for p in self.system_paths)
            if not system_entry:
                self.path.unlink(missing_ok=True)
                return
        except OSError as err:
            raise _failure("turn off", self.path, err) from err
        # Deleting our file would let the system-wide entry start the app;
        # the spec's way to switch that off for one user is Hidden=true.
        self._write(self._entry(hidden=True), "turn off")

    def describe(self) -> str:
        """The autostart file's path."""
        return str(self.path)

    def desktop_entry(self) -> str:
        """The text :meth:`enable` writes."""
        return self._entry(hidden=False)

    def _entry(self, *, hidden: bool) -> str:
        lines = [
            "[Desktop Entry]",
            "Type=Application",
            "Version=1.4",
            "Name=ATOM Desktop",
            "Comment=Start the ATOM Desktop agent in the system tray at login",
            f"Exec={desktop_exec_line(self.command)}",
            f"Icon={APP_ID}",
            "Terminal=false",
            f"X-GNOME-Autostart-enabled={'false' if hidden else 'true'}",
        ]
        if hidden:
            lines.append("Hidden=true")
        return "\n".join(lines) + "\n"

    def _write(self, text: str, action: str) -> None:
        try:
            # The spec asks for 0700 when the autostart directory is created.
            write_atomically(self.path, text.encode("utf-8"), dir_mode=0o700)
        except OSError as err:
            raise _failure(action, self.path, err) from err

    def _read(self, path: Path) -> dict[str, str] | None:
        """The ``[Desktop Entry]`` keys of ``path``; ``None`` if there is no such file."""
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise _failure("read", path, err) from err
        parser = configparser.ConfigParser(
            interpolation=None, strict=False, delimiters=("=",), comment_prefixes=("#",)
        )
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
        try:
            parser.read_string(text)
        except configparser.Error:
            # A damaged file starts nothing; enable() replaces it.
            return {}
        if not parser.has_section("Desktop Entry"):
            return {}
        return dict(parser.items("Desktop Entry"))


def _xdg_entry_active(entry: Mapping[str, str]) -> bool:
    if not entry.get("Exec", "").strip():
        return False
    if entry.get("Hidden", "false").strip().lower() == "true":
        return False
    return entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() != "false"


def desktop_exec_line(command: Sequence[str]) -> str:
    """``command`` as the value of a desktop file's ``Exec`` key.

    Arguments with reserved characters are double-quoted (with a backslash
    before each double quote, backtick, dollar sign and backslash inside),
    ``%`` is doubled, and then the whole value gets the desktop file's string
    escaping, which doubles every backslash again: the Desktop Entry
    specification's two layers, in its order.
    """
    words = []
    for arg in _checked_command(command):
        word = arg
        if arg == "" or any(c in _EXEC_RESERVED for c in arg):
            escaped = "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in arg)
            word = f'"{escaped}"'
        words.append(word.replace("%", "%%"))
    return " ".join(words).replace("\\", "\\\\")


class LaunchAgentAutostart:
    """A per-user launchd agent: ``~/Library/LaunchAgents/<label>.plist``.

    launchd reads the directory at login, so writing or removing the file is
    the whole switch; nothing needs loading now, because the app is running.
    """

    def __init__(
        self, command: Sequence[str], *, home: Path, label: str = LAUNCH_AGENT_LABEL
    ) -> None:
        self.command = _checked_command(command)
        self.label = label
        self.path = home / "Library" / "LaunchAgents" / f"{label}.plist"

    def is_enabled(self) -> bool:
        """Whether our agent file exists and asks to run at load (login)."""
        try:
            data = plistlib.loads(self.path.read_bytes())
        except FileNotFoundError:
            return False
        except OSError as err:
            raise _failure("read", self.path, err) from err
        except (plistlib.InvalidFileException, ValueError):
            return False  # damaged: launchd would refuse it too; enable() rewrites it
        return (
            isinstance(data, dict)
            and data.get("RunAtLoad") is True
            and data.get("Disabled", False) is not True
        )

    def enable(self) -> None:
        """Write the agent file (replacing any earlier one)."""
        try:
            write_atomically(self.path, self.plist())
        except OSError as err:
            raise _failure("turn on", self.path, err) from err

    def disable(self) -> None:
        """Remove the agent file."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as err:
            raise _failure("turn off", self.path, err) from err

    def describe(self) -> str:
        """The agent file's path."""
        return str(self.path)

    def plist(self) -> bytes:
        """The XML property list :meth:`enable` writes."""
        return plistlib.dumps(
            {
                "Label": self.label,
                "ProgramArguments": list(self.command),
                "RunAtLoad": True,
                # Interactive: launchd must not throttle a program the user sees.
                "ProcessType": "Interactive",
                # Only graphical logins; an ssh session has no tray to show.
                "LimitLoadToSessionType": "Aqua",
            },
            fmt=plistlib.FMT_XML,
        )


class RunKeyAutostart:
    """A value under the current user's ``...\\CurrentVersion\\Run`` registry key."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        registry: RegistryValues,
        value_name: str = RUN_VALUE_NAME,
    ) -> None:
        self.command = _checked_command(command)
        self.value_name = value_name
        # Windows splits the value with the C runtime's rules, which is what
        # list2cmdline quotes for (paths with spaces, embedded quotes).
        self.command_line = subprocess.list2cmdline(self.command)
        self._registry = registry

    def is_enabled(self) -> bool:
        """Whether the Run value exists and Task Manager has not switched it off."""
        value = self._call("read", RUN_KEY, lambda: self._registry.read(RUN_KEY, self.value_name))
        if not isinstance(value, str) or not value.strip():
            return False
        return not self._switched_off_in_task_manager()

    def enable(self) -> None:
        """Write the Run value; also clear an earlier "disabled" from Task Manager."""
        self._call(
            "turn on",
            RUN_KEY,
            lambda: self._registry.write_string(RUN_KEY, self.value_name, self.command_line),
        )
        if self._switched_off_in_task_manager():
            # The user asked for it here and now, which overrides the old choice.
            self._call(
                "turn on",
                STARTUP_APPROVED_KEY,
                lambda: self._registry.delete(STARTUP_APPROVED_KEY, self.value_name),
            )

    def disable(self) -> None:
        """Delete the Run value (and Task Manager's note about it, if any)."""
        self._call("turn off", RUN_KEY, lambda: self._registry.delete(RUN_KEY, self.value_name))
        self._call(
            "turn off",
            STARTUP_APPROVED_KEY,
            lambda: self._registry.delete(STARTUP_APPROVED_KEY, self.value_name),
        )

    def describe(self) -> str:
        """The registry key and value name."""
        return f'HKEY_CURRENT_USER\\{RUN_KEY} (value "{self.value_name}")'

    def _switched_off_in_task_manager(self) -> bool:
        approved = self._call(
            "read",
            STARTUP_APPROVED_KEY,
            lambda: self._registry.read(STARTUP_APPROVED_KEY, self.value_name),
        )
        # Task Manager keeps a binary value here: first byte 02 while the entry
        # is allowed, 03 (then a timestamp) once the user switched it off. We
        # read the low bit as the switch.
        return isinstance(approved, bytes) and len(approved) > 0 and approved[0] % 2 == 1

    def _call(self, action: str, key: str, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except OSError as err:
            raise AutostartError(
                f"Could not {action} start at login: the registry refused access to "
                f"HKEY_CURRENT_USER\\{key} ({err.strerror or err}).",
                hint="Check that your account may change its own registry settings "
                "(a policy may forbid it), or use Task Manager's Startup apps page.",
            ) from err


class WinregValues:
    """:class:`RegistryValues` on the real registry of the current user (Windows only).

    ``winreg`` is imported inside each method, so this module imports on
    every platform; elsewhere the methods raise :class:`AutostartError`.
    """

    def read(self, key: str, name: str) -> str | bytes | None:
        """The value, or ``None`` when the key or value does not exist."""
        if sys.platform == "win32":
            import winreg  # noqa: PLC0415  # exists only on Windows

            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                    value, _kind = winreg.QueryValueEx(handle, name)
            except FileNotFoundError:
                return None
            return value if isinstance(value, str | bytes) else None
        raise _not_windows()

    def write_string(self, key: str, name: str, value: str) -> None:
        """Create or replace a REG_SZ value, creating the key when needed."""
        if sys.platform == "win32":
            import winreg  # noqa: PLC0415  # exists only on Windows

            with winreg.CreateKeyEx(
                winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE
            ) as handle:
                winreg.SetValueEx(handle, name, 0, winreg.REG_SZ, value)
            return
        raise _not_windows()

    def delete(self, key: str, name: str) -> None:
        """Delete a value; an absent key or value is fine."""
        if sys.platform == "win32":
            import winreg  # noqa: PLC0415  # exists only on Windows

            try:
                with winreg.OpenKey(
                    winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE
                ) as handle:
                    winreg.DeleteValue(handle, name)
            except FileNotFoundError:
                pass
            return
        raise _not_windows()


def _not_windows() -> AutostartError:
    return AutostartError(
        "The Windows registry is not available on this system.",
        hint="This is a bug: pick the start-at-login method with autostart_for_this_system().",
    )


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, dir_mode: int = 0o755) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half.

    Missing parent directories are created (the last with ``dir_mode``).
    """
    path.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(mode)  # mkstemp makes 0600; these files are not secret
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _checked_command(command: Sequence[str]) -> tuple[str, ...]:
    if isinstance(command, str):
        # A bare string would be split into characters below.
        raise TypeError("command must be a sequence of arguments, not a string")
    argv = tuple(command)
    if not argv or not argv[0]:
        raise AutostartError(
            "Cannot set up start at login: no program to start was given.",
            hint="This is a bug: pass launch_command()'s result.",
        )
    for arg in argv:
        if any(ord(c) < 32 or ord(c) == 127 for c in arg):
            raise AutostartError(
                f"Cannot set up start at login: the command argument {arg!r} contains a "
                "control character, which login launchers cannot pass on.",
                hint="Install ATOM Desktop in a folder whose path has no line breaks or tabs.",
            )
    return argv


def _failure(action: str, path: Path, err: OSError) -> AutostartError:
    """The error for a file operation that failed; ``action`` is "read", "turn on" or "turn off"."""
    reason = err.strerror or str(err)
    if action == "read":
        return AutostartError(
            f"Could not read the start-at-login setting from {path} ({reason}).",
            hint=f"Make sure you can read {path}, or delete it, then try again.",
        )
    return AutostartError(
        f"Could not {action} start at login: changing {path} failed ({reason}).",
        hint=f"Make sure {path.parent} is a folder you own and can write to, then try again.",
    )
