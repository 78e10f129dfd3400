"""Long values (a key file's path) are shortened in the middle, never widening the window."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.elided_label import ElidedLabel

LONG_PATH = "key file /home/someone/" + "a-long-folder-name/" * 14 + "keys/0123.key"


def test_the_label_asks_for_a_few_characters_and_keeps_the_whole_text(qtbot: QtBot) -> None:
    label = ElidedLabel()
    qtbot.addWidget(label)
    label.setText(LONG_PATH)

    assert label.minimumSizeHint().width() < label.fontMetrics().horizontalAdvance(LONG_PATH) / 4
    assert label.toolTip() == LONG_PATH
    assert label.accessibleName() == LONG_PATH
    assert label.text() == LONG_PATH


def test_a_long_key_file_path_keeps_the_window_within_a_small_screen(desktop: DesktopApp) -> None:
    window = desktop.window
    window.home.key_label.setText(LONG_PATH)

    # The window's least width, with every page built, fits a 1280-pixel screen.
    assert window.minimumSizeHint().width() <= 1280
    assert window.home.key_label.toolTip() == LONG_PATH
