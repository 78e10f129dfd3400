"""The doctor's checks of the machine: Python, Qt, display and tray, data folder, port,
start at login. Each only looks (see client/doctor.py)."""

from __future__ import annotations

import contextlib
import json
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from atom_desktop.client.doctor import Finding, Outcome
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings

#: Below this much free space the store's writes may fail; below the second, soon.
FREE_SPACE_PROBLEM = 100 * 1024 * 1024
FREE_SPACE_WARNING = 1024 * 1024 * 1024
#: How long the Qt probe (a child process) may take to start and answer.
QT_PROBE_TIMEOUT_S = 30.0
_QT_DISTRIBUTIONS = ("PySide6-Essentials", "PySide6")


def check_python() -> Finding:
    """The interpreter the agent runs on (the package itself requires 3.11 or newer)."""
    found = (
        f"Python {platform.python_version()} ({platform.python_implementation()}, {sys.executable})"
    )
    return Finding("python", Outcome.OK, found)


def qt_version() -> str | None:
    """The installed PySide6's version, read from its metadata (Qt itself is not loaded)."""
    for name in _QT_DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def has_display(env: Mapping[str, str]) -> bool:
    """Whether a graphical session is there (as the desktop app decides it)."""
    if sys.platform == "win32" or sys.platform == "darwin":
        return True
    else:
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def check_qt_and_display(probe_command: Sequence[str], env: Mapping[str, str]) -> list[Finding]:
    """Qt's version, then the display and tray as a Qt program sees them.

    The display and the tray are asked by a child process (``probe_command``)
    that starts Qt: Qt aborts a process it cannot show anything in, and the
    doctor must outlive that to say so.
    """
    version = qt_version()
    if version is None:
        return [
            Finding(
                "qt",
                Outcome.WARNING,
                "PySide6 is not installed: no window or tray, only 'atom-desktop serve'",
                "Install the app with its window (pip install atom-desktop, or a build).",
            )
        ]
    if sys.version_info < (3, 12) and _version_tuple(version) >= (6, 12):
        # Each call of a wrapped method returning void drops a reference to None
        # there; after some thousands the process dies (RECIPES.md).
        return [
            Finding(
                "qt",
                Outcome.PROBLEM,
                f"PySide6 {version} on Python {platform.python_version()}: the window "
                "crashes after a few thousand updates (a PySide6 6.12 bug on Python 3.11)",
                "Install PySide6-Essentials below 6.12 (pip install 'PySide6-Essentials<6.12'), "
                "or use Python 3.12 or newer.",
            )
        ]
    findings = [Finding("qt", Outcome.OK, f"PySide6 {version}")]
    if not has_display(env):
        findings.append(
            Finding(
                "display",
                Outcome.WARNING,
                "no display (DISPLAY and WAYLAND_DISPLAY are unset): the app runs headless",
                "Start the app from a desktop session for its window and tray; "
                "'atom-desktop serve' runs the agent without them.",
            )
        )
        return findings
    try:
        done = subprocess.run(  # noqa: S603 - our own program, as a list
            list(probe_command),
            capture_output=True,
            text=True,
            timeout=QT_PROBE_TIMEOUT_S,
            check=False,
            env=dict(env),
        )
        answer = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, OSError, ValueError, IndexError):
        answer = None
        done = None
    if not isinstance(answer, dict):
        said = (done.stderr.strip().splitlines() or [""])[-1] if done is not None else ""
        findings.append(
            Finding(
                "display",
                Outcome.PROBLEM,
                "Qt could not open the display" + (f": {said}" if said else ""),
                "Check DISPLAY / WAYLAND_DISPLAY and that the session accepts this user "
                "(xhost, XAUTHORITY); on Linux, Qt's xcb plugin needs libxcb-cursor0.",
            )
        )
        return findings
    findings.append(
        Finding(
            "display",
            Outcome.OK,
            f"Qt platform {answer.get('platform', '?')}, Qt {answer.get('qt', '?')}",
        )
    )
    if answer.get("tray"):
        findings.append(Finding("tray", Outcome.OK, "a system tray is there"))
    else:
        findings.append(
            Finding(
                "tray",
                Outcome.WARNING,
                "no system tray on this desktop: closing the window asks instead of hiding",
                "On GNOME, install the AppIndicator extension; elsewhere, enable the "
                "panel's tray (notification area).",
            )
        )
    return findings


def check_data_dir(paths: AppPaths) -> list[Finding]:
    """The data folder: there (or makeable), private, writable, with room to write."""
    data = paths.data_dir
    existing = _nearest_existing(data)
    if existing is None or not existing.is_dir():
        blocker = existing or data
        return [
            Finding(
                "data-dir",
                Outcome.PROBLEM,
                f"{data} cannot be a folder: {blocker} is not a folder",
                "Set ATOM_DATA_DIR (or --data-dir) to a folder you own, or move that file away.",
            )
        ]
    findings: list[Finding] = []
    if existing != data:
        findings.append(
            Finding("data-dir", Outcome.OK, f"{data} does not exist yet; the first start makes it")
        )
    else:
        problem = _write_refused(data)
        if problem is not None:
            return [
                Finding(
                    "data-dir",
                    Outcome.PROBLEM,
                    f"{data} is not writable: {problem}",
                    f"Give your user write access to it (e.g. chmod u+rwx {data}), "
                    "or set ATOM_DATA_DIR to a folder you own.",
                )
            ]
        mode = data.stat().st_mode & 0o777
        if sys.platform != "win32" and mode & 0o077:
            findings.append(
                Finding(
                    "data-dir",
                    Outcome.WARNING,
                    f"{data} is writable, but other users may look into it (mode {mode:o})",
                    f"chmod 700 {data}",
                )
            )
        else:
            findings.append(Finding("data-dir", Outcome.OK, f"{data} is writable and private"))
    findings.append(_free_space(existing))
    return findings


def _nearest_existing(path: Path) -> Path | None:
    """``path`` or its nearest parent that exists (a file there blocks the folder)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
        if candidate.is_symlink():
            return None  # a dangling link
    return None


def _write_refused(folder: Path) -> str | None:
    """Why a file cannot be made in ``folder`` (None when it can): the real test, as
    permission bits say nothing for an administrator or a read-only file system."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def _free_space(folder: Path) -> Finding:
    free = shutil.disk_usage(folder).free
    found = f"{free / 1024**3:.1f} GiB free on the data folder's disk"
    if free < FREE_SPACE_PROBLEM:
        return Finding(
            "free-space", Outcome.PROBLEM, found, "Free some disk space: writes fail soon."
        )
    if free < FREE_SPACE_WARNING:
        return Finding("free-space", Outcome.WARNING, found, "Free some disk space.")
    return Finding("free-space", Outcome.OK, found)


def check_port(settings: Settings, agent_port: int | None) -> Finding:
    """The API's port: the profile's agent has it, or it is free for the next start."""
    if agent_port is not None:
        return Finding("api-port", Outcome.OK, f"{agent_port}, used by this profile's agent")
    if settings.port == 0:
        return Finding("api-port", Outcome.OK, "0: the agent picks a free port when it starts")
    try:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            if sys.platform != "win32":
                # As the agent binds it: a port in TIME_WAIT is free for it too.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((settings.host, settings.port))
    except OSError as exc:
        from atom_desktop.api.server import holder_of  # noqa: PLC0415 - loads uvicorn

        holder = holder_of(settings.port)
        return Finding(
            "api-port",
            Outcome.PROBLEM,
            f"{settings.host}:{settings.port} is in use by {holder} ({exc.strerror or exc})",
            f"Stop {holder}, or give the agent another port (ATOM_PORT or --port).",
        )
    return Finding("api-port", Outcome.OK, f"{settings.host}:{settings.port} is free")


def check_autostart(command: Sequence[str]) -> Finding:
    """Whether the app starts at login (a choice, not a problem either way)."""
    from atom_desktop.platform.autostart import autostart_for_this_system  # noqa: PLC0415

    entry = autostart_for_this_system(command)
    if entry.is_enabled():
        return Finding("autostart", Outcome.OK, f"starts at login ({entry.describe()})")
    return Finding(
        "autostart",
        Outcome.OK,
        "does not start at login (Settings > Start at login turns it on)",
    )
