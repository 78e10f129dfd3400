"""The tray has an icon per state for light panels and one for dark panels, and
shows the one that fits the desktop's colour scheme, following its switches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from atom_desktop.config.profile import Profile
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.icons import tray_icon
from atom_desktop.gui.style import current_theme, palette_for, theme_for
from atom_desktop.gui.tray import Tray
from atom_desktop.resource_files import TRAY_ICON_SIZES, TRAY_STATES, TrayState


def image(icon: QIcon, size: int) -> QImage:
    """``icon`` drawn at ``size`` pixels (ratio 1), as 32-bit ARGB."""
    return (
        icon.pixmap(QSize(size, size), 1.0).toImage().convertToFormat(QImage.Format.Format_ARGB32)
    )


def opaque_share(picture: QImage) -> float:
    """The share of ``picture``'s pixels that are at least half opaque."""
    pixels = picture.width() * picture.height()
    opaque = sum(
        1
        for y in range(picture.height())
        for x in range(picture.width())
        if picture.pixelColor(x, y).alpha() >= 128
    )
    return opaque / pixels


@pytest.fixture
def dark_palette(qapp: QApplication) -> Iterator[None]:
    """The app's dark palette, as a dark colour scheme gives it; the palette before, after."""
    before = qapp.palette()
    qapp.setPalette(palette_for(theme_for(True)))
    yield
    qapp.setPalette(before)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("state", TRAY_STATES)
def test_every_state_draws_at_every_panel_size(
    qapp: QApplication, state: TrayState, dark: bool
) -> None:
    icon = tray_icon(state, dark=dark)
    for size in (*TRAY_ICON_SIZES, 24, 48):
        picture = image(icon, size)
        assert (picture.width(), picture.height()) == (size, size)
        # The mark fills a good part of its square (a glyph, not a speck or a blank).
        assert 0.15 < opaque_share(picture) < 0.9, f"{state} at {size} px"


@pytest.mark.parametrize("state", TRAY_STATES)
def test_light_and_dark_panel_icons_differ(qapp: QApplication, state: TrayState) -> None:
    for size in TRAY_ICON_SIZES:
        light = image(tray_icon(state, dark=False), size)
        dark = image(tray_icon(state, dark=True), size)
        assert light != dark, f"{state} at {size} px"
        # Light ink for dark panels: the dark variant's mark is the brighter one.
        assert mean_lightness(dark) > mean_lightness(light) + 60, f"{state} at {size} px"


def mean_lightness(picture: QImage) -> float:
    """The mean lightness (0-255) of the opaque pixels of ``picture``'s top half:
    the mark, above the state's badge (bottom right)."""
    values = [
        picture.pixelColor(x, y).lightness()
        for y in range(picture.height() // 2)
        for x in range(picture.width())
        if picture.pixelColor(x, y).alpha() >= 128
    ]
    return sum(values) / len(values)


def shown(tray: Tray) -> QImage:
    return image(tray.icon.icon(), 22)


def assert_each_state_shows_its_icon(*, dark: bool) -> None:
    """Put a tray in each state in turn; it shows that state's drawing for the panel."""
    tray = Tray()
    assert current_theme().dark == dark
    for state in TRAY_STATES:
        tray.error = "boom" if state == "error" else None
        tray.paused = state == "paused"
        tray.running = {"r1": "sleep 1"} if state == "running" else {}
        tray.update()
        assert tray.state() == state
        assert shown(tray) == image(tray_icon(state, dark=dark), 22), state


def test_the_tray_shows_the_light_panel_icon_under_a_light_scheme(qtbot: QtBot) -> None:
    assert_each_state_shows_its_icon(dark=False)


def test_the_tray_shows_the_dark_panel_icon_under_a_dark_scheme(
    qtbot: QtBot, dark_palette: None
) -> None:
    assert_each_state_shows_its_icon(dark=True)


def test_the_tray_follows_a_switch_of_the_colour_scheme(
    qtbot: QtBot, qapp: QApplication, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, _profile = fresh_app
    hints = qapp.styleHints()
    before = qapp.palette()
    try:
        for dark, scheme in ((True, Qt.ColorScheme.Dark), (False, Qt.ColorScheme.Light)):
            other = image(tray_icon("idle", dark=not dark), 22)
            # What apply_style does on a switch; the offscreen platform has no
            # scheme to switch, so the hint's signal is sent here as the desktop's is.
            qapp.setPalette(palette_for(theme_for(dark)))
            assert shown(app.tray) == other  # not redrawn by the palette alone
            hints.colorSchemeChanged.emit(scheme)
            assert shown(app.tray) == image(tray_icon("idle", dark=dark), 22)
    finally:
        qapp.setPalette(before)
