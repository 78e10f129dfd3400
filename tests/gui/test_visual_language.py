"""The shared pieces of the app's look: palette, chips, column sizing, empty states, numbers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QTreeWidget, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from atom_desktop.gui.column_sizing import cut_columns, fit_columns
from atom_desktop.gui.elide_delegate import MiddleElideDelegate
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.icons import PAGE_ICONS, page_icon, status_icon
from atom_desktop.gui.number_cells import NUMBER_ALIGNMENT, format_bytes, set_number_cell
from atom_desktop.gui.pages.integrations import ACCOUNT_STATUSES, account_chip, status_words
from atom_desktop.gui.status_chip import (
    KNOWN_STATUSES,
    STATUS_ROLE,
    StatusChip,
    StatusChipDelegate,
    set_status_cell,
    status_colours,
    status_text,
)
from atom_desktop.gui.style import DARK, LIGHT, apply_style, palette_for, theme_for

ISSUE_STATUSES = ("running", "succeeded", "failed", "cancelled", "timed_out", "waiting_approval")


def test_palette_follows_a_dark_desktop(qapp: QApplication) -> None:
    before = qapp.palette()
    try:
        qapp.setPalette(palette_for(theme_for(dark=True)))
        theme = apply_style(qapp)
        assert theme.dark
        assert qapp.palette().color(QPalette.ColorRole.Base) == QColor(DARK.surface)
        qapp.setPalette(palette_for(theme_for(dark=False)))
        assert not apply_style(qapp).dark
        assert qapp.palette().color(QPalette.ColorRole.Window) == QColor(LIGHT.window)
    finally:
        qapp.setPalette(before)


@pytest.mark.parametrize("status", ISSUE_STATUSES, ids=ISSUE_STATUSES)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_each_status_has_its_chip(qtbot: QtBot, status: str, dark: bool) -> None:
    chip = StatusChip(status)
    qtbot.addWidget(chip)
    assert chip.text() == status_text(status)
    assert chip.accessibleName().endswith(status_text(status))
    background, text = status_colours(status, dark=dark)
    # Readable: the text stands out from its background.
    assert abs(background.lightness() - text.lightness()) > 90
    assert chip.sizeHint().width() > chip.fontMetrics().horizontalAdvance(chip.text())
    chip.show()
    qtbot.waitExposed(chip)
    image = chip.grab().toImage()
    assert image.pixelColor(image.width() // 2, 1).alpha() > 0


def test_chips_differ_by_outcome() -> None:
    colours = {status_colours(s, dark=False)[0].name() for s in ISSUE_STATUSES}
    assert len(colours) >= 5  # cancelled may share the neutral grey; the rest are apart
    assert set(ISSUE_STATUSES) <= set(KNOWN_STATUSES)
    assert status_text("waiting_approval") == "Waiting for approval"
    assert status_text("some_new_state") == "Some new state"


def test_chip_delegate_sizes_columns_to_the_chip(qtbot: QtBot) -> None:
    tree = QTreeWidget()
    qtbot.addWidget(tree)
    tree.setHeaderLabels(["Status", "Command"])
    tree.setItemDelegateForColumn(0, StatusChipDelegate(tree))
    for status in ISSUE_STATUSES:
        item = QTreeWidgetItem(tree)
        set_status_cell(item, 0, status)
        item.setText(1, "true")
        assert item.data(0, STATUS_ROLE) == status
    fit_columns(tree)
    tree.resize(700, 300)
    tree.show()
    qtbot.waitExposed(tree)
    qtbot.waitUntil(lambda: not cut_columns(tree), timeout=5000)
    assert tree.header().sectionSize(0) >= tree.fontMetrics().horizontalAdvance(
        "Waiting for approval"
    )


def test_long_paths_elide_in_the_middle_and_no_column_is_cut(qtbot: QtBot) -> None:
    tree = QTreeWidget()
    qtbot.addWidget(tree)
    tree.setHeaderLabels(["When", "Exit", "Command"])
    tree.setItemDelegateForColumn(2, MiddleElideDelegate(tree))
    long_command = "/very/long/path/" * 30 + "tail.sh --flag"
    item = QTreeWidgetItem(tree, ["2026-12-06 04:05:06 +0000", "", long_command])
    set_number_cell(item, 1, 137)
    fit_columns(tree)
    tree.resize(600, 200)
    tree.show()
    qtbot.waitExposed(tree)
    qtbot.waitUntil(lambda: not cut_columns(tree), timeout=5000)
    header = tree.header()
    # The fixed columns are whole; the command takes the rest and ends at the viewport.
    assert header.sectionSize(0) >= tree.fontMetrics().horizontalAdvance(item.text(0))
    assert header.sectionPosition(2) + header.sectionSize(2) == tree.viewport().width()
    assert item.textAlignment(1) == NUMBER_ALIGNMENT.value


def test_format_bytes() -> None:
    assert format_bytes(999) == "999 B"
    assert format_bytes(1_400_000) == "1.4 MB"


def test_empty_state_button_and_stack(qtbot: QtBot) -> None:
    tree = QTreeWidget()
    empty = EmptyState("No runs yet", "Runs appear here.", action="Run a command")
    stack = EmptyStateStack(tree, empty)
    qtbot.addWidget(stack)
    stack.follow(tree.model())
    assert stack.showing_empty
    assert empty.button is not None
    assert empty.button.accessibleName() == "Run a command"
    with qtbot.waitSignal(empty.action_requested, timeout=1000):
        qtbot.mouseClick(empty.button, Qt.MouseButton.LeftButton)
    QTreeWidgetItem(tree, ["a run"])
    assert stack.currentWidget() is tree
    tree.clear()
    assert stack.currentWidget() is empty


@pytest.mark.parametrize("page", PAGE_ICONS, ids=PAGE_ICONS)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_page_icons_are_drawn_for_both_backgrounds(
    qapp: QApplication, page: str, dark: bool
) -> None:
    icon = page_icon(page, dark=dark)
    assert not icon.isNull()
    # Sharp at HiDPI: the SVG renders at twice the size, not a scaled-up bitmap.
    pixmap = icon.pixmap(QSize(20, 20), 2.0)
    assert pixmap.width() == 40
    image = pixmap.toImage()
    ink = [image.pixelColor(x, y) for x in range(40) for y in range(40)]
    drawn = [c for c in ink if c.alpha() > 200]
    assert drawn, "the icon draws something"
    # Dark ink on light backgrounds, light ink on dark ones.
    average = sum(c.lightness() for c in drawn) / len(drawn)
    assert (average > 128) == dark


@pytest.mark.parametrize("status", [*ISSUE_STATUSES, "queued", "interrupted"])
def test_status_icons(qapp: QApplication, status: str) -> None:
    assert not status_icon(status, dark=False).isNull()
    assert not status_icon(status, dark=True).isNull()


def test_a_denied_step_has_a_chip_of_its_own() -> None:
    assert "denied" in KNOWN_STATUSES
    assert status_text("denied") == "Denied"
    assert status_colours("denied", dark=False) == status_colours("failed", dark=False)
    assert status_colours("denied", dark=True) == status_colours("failed", dark=True)


ACCOUNT_WORDS = {
    "pending": "Waiting for sign-in",
    "connected": "Connected",
    "reconnect_needed": "Reconnect needed",
    "error": "Error",
}


@pytest.mark.parametrize("status", ACCOUNT_STATUSES, ids=ACCOUNT_STATUSES)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_each_integration_account_status_has_its_chip(
    qtbot: QtBot, status: str, dark: bool
) -> None:
    key = account_chip(status)
    assert key in KNOWN_STATUSES
    assert status_words(status) == status_text(key) == ACCOUNT_WORDS[status]
    background, text = status_colours(key, dark=dark)
    assert abs(background.lightness() - text.lightness()) > 90
    # The account's tone is the run status's of the same meaning.
    same = {"pending": "running", "connected": "succeeded"}.get(status, "failed")
    assert (background, text) == status_colours(same, dark=dark)
    chip = StatusChip(key)
    qtbot.addWidget(chip)
    assert chip.accessibleName() == f"Status: {ACCOUNT_WORDS[status]}"


def test_account_status_cells_are_chips(qtbot: QtBot) -> None:
    tree = QTreeWidget()
    qtbot.addWidget(tree)
    tree.setHeaderLabels(["Service", "Status"])
    delegate = StatusChipDelegate(tree)
    tree.setItemDelegateForColumn(1, delegate)
    item = QTreeWidgetItem(tree, ["GitHub", ""])
    set_status_cell(item, 1, account_chip("reconnect_needed"))
    assert item.text(1) == "Reconnect needed"
    fit_columns(tree)
    tree.show()
    qtbot.waitExposed(tree)
    # Painted as a chip: the cell holds the failed tone's background.
    rect = tree.visualItemRect(item)
    rect.setLeft(tree.header().sectionPosition(1))
    image = tree.viewport().grab(rect).toImage()
    red = status_colours("failed", dark=False)[0]
    assert any(image.pixelColor(x, image.height() // 2) == red for x in range(image.width())), (
        "no chip painted in the status cell"
    )
