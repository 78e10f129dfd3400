"""The app's icons as Qt icons, from the packaged ``resources/icons``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from atom_desktop.resource_files import (
    TrayState,
    app_icon_paths,
    resource_path,
    tray_icon_paths,
)


def app_icon() -> QIcon:
    """The application icon, every size (the SVG for anything larger)."""
    return _icon(app_icon_paths())


def tray_icon(state: TrayState, *, dark: bool) -> QIcon:
    """The tray icon of a state for a dark or a light panel (light or dark ink):
    PNGs rendered at the panel sizes, the SVG for the rest."""
    return _icon(tray_icon_paths(state, dark=dark))


def _icon(files: list[Path]) -> QIcon:
    icon = QIcon()
    for file in files:
        icon.addFile(str(file))
    return icon


#: The pages that have a navigation icon (``resources/icons/page-<name>-<light|dark>.svg``).
PAGE_ICONS = (
    "home",
    "tasks",
    "console",
    "activity",
    "settings",
    "automations",
    "sync",
    "integrations",
    "diagnostics",
    "assistant",
)

#: The statuses that have an icon (``resources/icons/status-<status>-<light|dark>.svg``).
STATUS_ICONS = ("running", "succeeded", "failed", "cancelled", "timed_out", "waiting_approval")


def page_icon(page: str, *, dark: bool) -> QIcon:
    """The navigation icon of ``page`` (a name in :data:`PAGE_ICONS`) for a light or dark
    background. SVG, so it is sharp at every size and device pixel ratio."""
    if page not in PAGE_ICONS:
        raise ValueError(f"no icon for page {page!r}; known: {', '.join(PAGE_ICONS)}")
    icon = _icon([resource_path(f"icons/page-{page}-{_variant(dark)}.svg")])
    # Selected, the icon sits on the accent colour, whose text is light in the
    # light theme and dark in the dark one: the other variant's ink.
    icon.addFile(
        str(resource_path(f"icons/page-{page}-{_variant(not dark)}.svg")),
        mode=QIcon.Mode.Selected,
    )
    return icon


def status_icon(status: str, *, dark: bool) -> QIcon:
    """The icon of a run's status; statuses without one of their own (queued,
    interrupted, skipped) borrow the nearest: running, failed, cancelled."""
    status = {"queued": "running", "interrupted": "failed", "skipped": "cancelled"}.get(
        status, status
    )
    if status not in STATUS_ICONS:
        status = "cancelled"
    return _icon([resource_path(f"icons/status-{status}-{_variant(dark)}.svg")])


def _variant(dark: bool) -> str:
    return "dark" if dark else "light"
