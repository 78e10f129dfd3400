"""The launcher entry: ATOM Desktop in the desktop's application menu, for one user.

On freedesktop systems (Linux, the BSDs) the entry is three kinds of file
under ``$XDG_DATA_HOME`` (default ``~/.local/share``):

- ``applications/atom-desktop.desktop``, whose ``Exec`` starts this
  installation (an absolute path, so it works without the venv on ``PATH``);
- the application icon in ``icons/hicolor/<size>/apps/`` (and the SVG in
  ``icons/hicolor/scalable/apps/``);
- the AppStream metainfo in ``metainfo/``, for software centres.

macOS and Windows have no such entry: their installers put the app in
Applications or the Start menu.

This module only copies files it is given: the caller finds the shipped
files (``atom_desktop.resource_files``) and names the command to start, so the
layering stays "platform builds on core only" and nothing here touches the
real home directory unless told to. The command is quoted for ``Exec`` and
the files are written the way the start-at-login entry does it
(:mod:`atom_desktop.platform.autostart`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from atom_desktop.core.errors import AtomError
from atom_desktop.platform.autostart import desktop_exec_line, write_atomically

#: The app's reverse-DNS id: the AppStream component id (and the metainfo
#: file's name). The macOS LaunchAgent label in :mod:`atom_desktop.platform.autostart` is
#: the same name; a test keeps the two equal.
APPSTREAM_ID: Final = "org.atom.desktop"

#: The metainfo file, as shipped in ``resources/`` and as installed.
METAINFO_FILE_NAME: Final = f"{APPSTREAM_ID}.metainfo.xml"

#: The systems whose installers make the launcher entry themselves.
_NO_ENTRY_SYSTEMS: Final = {"darwin": "macOS", "win32": "Windows"}

#: Cache files the refresh tools write, and the tools; see :meth:`LauncherEntry.refresh_caches`.
_DESKTOP_CACHE: Final = "mimeinfo.cache"
_ICON_CACHE: Final = "icon-theme.cache"

_SIZE_DIR: Final = re.compile(r"[0-9]+x[0-9]+")


class LauncherEntryError(AtomError):
    """The launcher entry could not be written or removed (the message says where and why)."""


@dataclass(frozen=True, slots=True)
class LauncherSources:
    """What the launcher entry is made of.

    ``desktop_file`` is the shipped template, whose ``Exec`` and ``TryExec``
    lines are replaced; ``icons`` are the app icon files, an SVG and PNGs
    that each sit in a ``<N>x<N>/apps/`` folder; ``command`` is what the
    entry starts, the program and its arguments.
    """

    desktop_file: Path
    icons: Sequence[Path]
    metainfo: Path
    command: Sequence[str]

    def __post_init__(self) -> None:
        # A command no launcher can start is refused here, before any file is touched.
        desktop_exec_line(self.command)

    @property
    def exec_line(self) -> str:
        """The ``Exec`` value: :attr:`command` quoted as the Desktop Entry specification asks."""
        return desktop_exec_line(self.command)

    @property
    def program(self) -> str:
        """The executable :attr:`command` starts (for ``TryExec``)."""
        return self.command[0]


def has_launcher_entry(platform: str) -> bool:
    """Whether ``platform`` (a ``sys.platform`` value) gets a per-user launcher entry from us."""
    return platform not in _NO_ENTRY_SYSTEMS


def no_launcher_entry_message(platform: str) -> str:
    """What the launcher-entry options say on a system that has no such entry."""
    system = _NO_ENTRY_SYSTEMS.get(platform, platform)
    where = "Applications folder" if platform == "darwin" else "Start menu"
    return (
        f"There is no launcher entry to add or remove on {system}: the ATOM Desktop "
        f"installer puts the app in the {where}, and its uninstaller takes it out."
    )


def xdg_data_home(home: Path, env: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share`` when it is unset or not absolute."""
    # The XDG Base Directory spec says a relative path there is invalid and ignored.
    value = env.get("XDG_DATA_HOME", "")
    return Path(value) if value and Path(value).is_absolute() else home / ".local" / "share"


class LauncherEntry:
    """The launcher entry built from ``sources`` under the data directory ``data_home``."""

    def __init__(self, sources: LauncherSources, *, data_home: Path) -> None:
        self.sources = sources
        self.data_home = data_home
        self.applications_dir = data_home / "applications"
        self.icon_theme_dir = data_home / "icons" / "hicolor"
        self.metainfo_dir = data_home / "metainfo"

    @property
    def desktop_path(self) -> Path:
        """Where the ``.desktop`` file goes."""
        return self.applications_dir / self.sources.desktop_file.name

    def files(self) -> dict[Path, Path | None]:
        """Every installed path, mapped to the file it is copied from (``None``: generated)."""
        planned: dict[Path, Path | None] = {self.desktop_path: None}
        for icon in self.sources.icons:
            planned[self.icon_theme_dir / _icon_folder(icon) / "apps" / icon.name] = icon
        planned[self.metainfo_dir / self.sources.metainfo.name] = self.sources.metainfo
        return planned

    def desktop_entry(self) -> str:
        """The ``.desktop`` file's text: the template with this installation's command."""
        try:
            template = self.sources.desktop_file.read_text(encoding="utf-8")
        except OSError as err:
            raise _failure("read", self.sources.desktop_file, err) from err
        if any(c in self.sources.program for c in "\n\r"):
            raise ValueError(f"the program path has a line break: {self.sources.program!r}")
        # TryExec is a plain string value: only the string escaping applies.
        try_exec = self.sources.program.replace("\\", "\\\\")
        replaced: set[str] = set()
        lines = []
        values = {"Exec": self.sources.exec_line, "TryExec": try_exec}
        for line in template.splitlines():
            key = line.partition("=")[0].strip()
            if key in values:
                replaced.add(key)
            lines.append(f"{key}={values[key]}" if key in values else line)
        if "Exec" not in replaced:
            raise ValueError(f"{self.sources.desktop_file} has no Exec line to fill in")
        return "\n".join(lines) + "\n"

    def install(self) -> list[Path]:
        """Write every file that is missing or differs; returns those written (empty: no change).

        Safe to repeat: an unchanged entry is left alone, so its files keep
        their times and the desktop has nothing to reload.
        """
        written = []
        for target, source in self.files().items():
            if source is None:
                data = self.desktop_entry().encode("utf-8")
            else:
                try:
                    data = source.read_bytes()
                except OSError as err:
                    raise _failure("read", source, err) from err
            try:
                if target.is_file() and target.read_bytes() == data:
                    continue
                # The folders as any other the user makes: the umask decides their mode.
                write_atomically(target, data, dir_mode=0o777)
            except OSError as err:
                raise _failure("write", target, err) from err
            written.append(target)
        return written

    def uninstall(self) -> list[Path]:
        """Remove the files :meth:`install` writes; returns those that were there.

        Only those files: folders stay, as other apps' entries and icons live in them too.
        """
        removed = []
        for target in self.files():
            try:
                target.unlink()
            except FileNotFoundError:
                continue
            except OSError as err:
                raise _failure("remove", target, err) from err
            removed.append(target)
        return removed

    def refresh_caches(self) -> list[str]:
        """Bring the desktop's caches up to date; returns a warning per refresh that failed.

        Only caches that already exist are refreshed: desktops read the
        folders themselves when there is none, and a cache made here would be
        a file that removing the entry leaves behind. A missing tool is fine.
        """
        warnings = []
        jobs = (
            (self.applications_dir / _DESKTOP_CACHE, ["update-desktop-database", "-q"]),
            # -t: a user's hicolor folder normally has no index.theme of its own.
            (self.icon_theme_dir / _ICON_CACHE, ["gtk-update-icon-cache", "-q", "-t", "-f"]),
        )
        for cache, command in jobs:
            tool = shutil.which(command[0])
            if tool is None or not cache.is_file():
                continue
            try:
                done = subprocess.run(  # noqa: S603 - a fixed tool and our own folder
                    [tool, *command[1:], str(cache.parent)],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as err:
                warnings.append(f"{command[0]} {cache.parent} did not run: {err}")
                continue
            if done.returncode != 0:
                detail = (done.stderr or done.stdout).strip()
                warnings.append(
                    f"{command[0]} {cache.parent} failed (exit code {done.returncode}): {detail}"
                )
        return warnings


def installed_message(entry: LauncherEntry, written: Sequence[Path]) -> str:
    """What installing says: nothing when nothing changed, else what was written and how to undo."""
    if not written:
        return ""
    return (
        f"Added ATOM Desktop to the applications menu ({len(written)} files changed; the "
        f"entry is {entry.desktop_path}). To take it out again: atom-desktop "
        "--uninstall-desktop-entry"
    )


def removed_message(removed: Sequence[Path], kept: Mapping[str, Path]) -> str:
    """What removing says: the files removed, then where the user's data stays.

    ``kept`` names the folders that stay (e.g. ``{"data": ..., "config": ...}``).
    """
    lines = (
        ["Removed ATOM Desktop from the applications menu:", *(f"  {p}" for p in removed)]
        if removed
        else ["ATOM Desktop had no launcher entry to remove."]
    )
    lines.append("Your data stays where it is:")
    lines += [f"  {what}: {path}" for what, path in kept.items()]
    folders = " ".join(shlex.quote(str(p)) for p in dict.fromkeys(kept.values()))
    lines.append(
        "To delete it as well (tasks, runs, automations and settings; this cannot be "
        f"undone), quit ATOM Desktop and run: rm -r {folders}"
    )
    lines.append(
        "The database key and the tokens stay in your keyring (entries whose service "
        "name starts with atom-desktop) until you delete them there."
    )
    return "\n".join(lines)


def _icon_folder(icon: Path) -> str:
    """The hicolor folder for ``icon``: ``scalable`` for an SVG, else its ``<N>x<N>`` folder."""
    if icon.suffix == ".svg":
        return "scalable"
    size = icon.parent.parent.name
    if icon.parent.name != "apps" or not _SIZE_DIR.fullmatch(size):
        raise ValueError(f"an icon must be an SVG or in a <N>x<N>/apps/ folder: {icon}")
    return size


def _failure(action: str, path: Path, err: OSError) -> LauncherEntryError:
    return LauncherEntryError(
        f"Could not {action} {path} for the launcher entry ({err.strerror or err}).",
        hint=f"Make sure {path.parent} is a folder you own and can write to, then try again.",
    )
