"""The app's look in one place: a small palette (light and dark), a spacing scale.

Pages never spell a colour or a margin themselves: they take them from here,
so the app reads as one thing and a dark desktop gets dark colours
everywhere. :func:`apply_style` is called once when the app starts (and again
by itself when the desktop switches between light and dark); it sets a
``QPalette`` rather than a style sheet, because an application-wide style sheet
makes Qt route every widget's painting through its slower style-sheet style.

Usage::

    theme = apply_style(app)          # at start
    theme = current_theme()           # anywhere later (light or dark, as applied)
    layout.setSpacing(Spacing.M)
    colour = theme.colours.muted
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QLayout, QWidget

LayoutT = TypeVar("LayoutT", bound=QLayout)


class Spacing(IntEnum):
    """The spacing scale in device-independent pixels; layouts use only these."""

    XS = 4
    S = 8
    M = 12
    L = 16
    XL = 24


@dataclass(frozen=True)
class Colours:
    """The palette's named colours, as ``#rrggbb`` strings."""

    window: str
    surface: str  # lists, tables, text fields
    surface_alt: str  # alternate rows, cards
    text: str
    muted: str  # secondary text: hints, times, empty states
    border: str
    accent: str  # selection, links, the primary action
    on_accent: str
    danger: str


LIGHT = Colours(
    window="#f5f6f8",
    surface="#ffffff",
    surface_alt="#f0f2f5",
    text="#1c2230",
    muted="#5d6676",
    border="#d6dbe3",
    accent="#3461d9",
    on_accent="#ffffff",
    danger="#b42318",
)

DARK = Colours(
    window="#1d2027",
    surface="#23272f",
    surface_alt="#2a2f38",
    text="#e5e8ee",
    muted="#9aa3b3",
    border="#3a404c",
    accent="#6d93ff",
    on_accent="#0d1020",
    danger="#ff8a80",
)


@dataclass(frozen=True)
class Theme:
    """The colours in use and whether they are the dark set."""

    dark: bool
    colours: Colours


def theme_for(dark: bool) -> Theme:
    """The light or the dark theme."""
    return Theme(dark=dark, colours=DARK if dark else LIGHT)


def system_prefers_dark(app: QGuiApplication) -> bool:
    """Whether the desktop asks for dark colours.

    The colour scheme hint where the platform reports one; otherwise the
    palette the platform (or whoever made the app) handed over: a dark
    window colour means a dark desktop.
    """
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def palette_for(theme: Theme) -> QPalette:
    """A ``QPalette`` made of ``theme``'s colours (disabled text greyed)."""
    c = theme.colours
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window,
        QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.surface,
        QPalette.ColorRole.AlternateBase: c.surface_alt,
        QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.surface_alt if theme.dark else c.surface,
        QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: c.on_accent,
        QPalette.ColorRole.Link: c.accent,
        QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.ToolTipBase: c.surface_alt,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.Mid: c.border,
        QPalette.ColorRole.Midlight: c.surface_alt,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.muted))
    return palette


def apply_style(app: QApplication) -> Theme:
    """Give ``app`` the palette that fits the desktop (light or dark); returns the theme.

    Follows later switches of the desktop's colour scheme by itself.
    """
    theme = theme_for(system_prefers_dark(app))
    app.setPalette(palette_for(theme))
    if not app.property("atom_style_follows"):
        app.setProperty("atom_style_follows", True)
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _reapply(app))
    return theme


def _reapply(app: QApplication) -> None:
    scheme = app.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        app.setPalette(palette_for(theme_for(scheme == Qt.ColorScheme.Dark)))


def current_theme(widget: QWidget | None = None) -> Theme:
    """The theme in use, read from ``widget``'s palette (or the application's)."""
    palette = widget.palette() if widget is not None else QGuiApplication.palette()
    return theme_for(palette.color(QPalette.ColorRole.Base).lightness() < 128)


def page_margins(layout: LayoutT) -> LayoutT:
    """Give ``layout`` the margins and spacing every page uses around its content; returns it."""
    layout.setContentsMargins(Spacing.L, Spacing.L, Spacing.L, Spacing.L)
    layout.setSpacing(Spacing.M)
    return layout


def heading(text: str, parent: QWidget | None = None, *, level: int = 1) -> QLabel:
    """A page (level 1) or section (level 2) title: larger, bold, from the system font."""
    label = QLabel(text, parent)
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * (1.45 if level == 1 else 1.15))
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    label.setAccessibleName(text)
    return label


def muted(label: QLabel) -> QLabel:
    """Show ``label`` in the palette's secondary text colour; returns it."""
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(current_theme(label).colours.muted))
    label.setPalette(palette)
    return label
