"""The app's icons, loaded from the packaged ``resources/icons``."""

from __future__ import annotations

from typing import Literal

from PySide6.QtGui import QIcon

from atom_desktop.resource_files import resource_path

TrayState = Literal["idle", "running", "error", "paused"]
TRAY_SIZES = (16, 22, 32, 64)
APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    """The application icon, every size (the SVG for anything larger)."""
    icon = QIcon(str(resource_path("icons/atom-desktop.svg")))
    for size in APP_SIZES:
        icon.addFile(str(resource_path(f"icons/hicolor/{size}x{size}/apps/atom-desktop.png")))
    return icon


def tray_icon(state: TrayState) -> QIcon:
    """The tray icon of a state: pixel-fitted PNGs for small sizes, the SVG for the rest."""
    icon = QIcon(str(resource_path(f"icons/tray-{state}.svg")))
    for size in TRAY_SIZES:
        icon.addFile(str(resource_path(f"icons/tray/{state}-{size}.png")))
    return icon
