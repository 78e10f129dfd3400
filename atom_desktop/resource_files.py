"""Files shipped with the app: icons and the desktop entry.

They live in the repository's top-level ``resources/`` directory, which
pyproject.toml installs as the package ``atom_desktop.resources``; looking them
up through :mod:`importlib.resources` finds them in a wheel install and in an
editable (``pip install -e``) checkout alike, never relative to the current
directory. No Qt here: the GUI turns these paths into ``QIcon`` objects.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from atom_desktop.core.errors import AtomError

#: The package the ``resources/`` directory is installed as.
RESOURCE_PACKAGE: Final = "atom_desktop.resources"

#: Icon name (freedesktop icon theme), desktop entry name and WM class.
APP_ID: Final = "atom-desktop"

#: Sizes rendered as PNG for the application icon (``resources/render_icons.py``).
APP_ICON_SIZES: Final = (16, 22, 24, 32, 48, 64, 128, 256)

#: Sizes rendered as PNG for each tray state.
TRAY_ICON_SIZES: Final = (16, 22, 32, 64)

TrayState = Literal["idle", "running", "error", "paused"]

#: Every tray state that has an icon.
TRAY_STATES: Final[tuple[TrayState, ...]] = ("idle", "running", "error", "paused")


class MissingResourceError(AtomError):
    """A file that ships with the app is not where the installation put it."""


def resource_path(relative: str) -> Path:
    """The file ``relative`` (a ``/``-separated path inside ``resources/``).

    Raises :class:`ValueError` for a path that is absolute or climbs out with
    ``..`` (that is a bug in the caller), and :class:`MissingResourceError`
    when the file is not installed.
    """
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or "\\" in relative:
        raise ValueError(f"not a relative resource path: {relative!r}")
    root = files(RESOURCE_PACKAGE)
    # Qt and the desktop need real files. Installs from a wheel or a checkout
    # are plain directories; a zip import would not be, and is not supported.
    if not isinstance(root, Path):
        raise MissingResourceError(
            f"The app's resources are inside an archive ({root}), not in a directory.",
            hint="Install ATOM Desktop with pip (not as a zip application).",
        )
    path = root.joinpath(*parts)
    if not path.is_file():
        raise MissingResourceError(
            f"The app's resource file {relative} is missing (looked in {root}).",
            hint="The installation is incomplete: reinstall ATOM Desktop. In a source "
            "checkout, run `.venv/bin/python resources/render_icons.py` to rebuild the icons.",
        )
    return path


def desktop_entry_path() -> Path:
    """The freedesktop ``.desktop`` file that launches the app."""
    return resource_path(f"{APP_ID}.desktop")


def translations_dir() -> Path:
    """The folder of the compiled translations (``atom_desktop_<lang>.qm``).

    It may be missing or empty (no translation ships yet): loading then
    finds nothing and the window shows its English source strings.
    """
    root = files(RESOURCE_PACKAGE)
    return Path(str(root)) / "translations"


def app_icon_paths() -> list[Path]:
    """The application icon: the SVG, then one PNG per size in :data:`APP_ICON_SIZES`."""
    return [resource_path(f"icons/{APP_ID}.svg")] + [
        resource_path(f"icons/hicolor/{n}x{n}/apps/{APP_ID}.png") for n in APP_ICON_SIZES
    ]


def tray_icon_paths(state: TrayState, *, dark: bool) -> list[Path]:
    """The tray icon for ``state`` on a dark or a light panel: the SVG, then one PNG
    per size in :data:`TRAY_ICON_SIZES`."""
    if state not in TRAY_STATES:
        raise ValueError(f"no tray icon for state {state!r}; known: {', '.join(TRAY_STATES)}")
    variant = "dark" if dark else "light"
    return [resource_path(f"icons/tray-{state}-{variant}.svg")] + [
        resource_path(f"icons/tray/{state}-{variant}-{n}.png") for n in TRAY_ICON_SIZES
    ]
