"""The app's icons as Qt icons, from the packaged ``resources/icons``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from atom_desktop.resource_files import TrayState, app_icon_paths, tray_icon_paths


def app_icon() -> QIcon:
    """The application icon, every size (the SVG for anything larger)."""
    return _icon(app_icon_paths())


def tray_icon(state: TrayState) -> QIcon:
    """The tray icon of a state: pixel-fitted PNGs for small sizes, the SVG for the rest."""
    return _icon(tray_icon_paths(state))


def _icon(files: list[Path]) -> QIcon:
    icon = QIcon()
    for file in files:
        icon.addFile(str(file))
    return icon
