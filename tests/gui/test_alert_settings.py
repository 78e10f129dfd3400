"""The Settings page's Alerts box, on the real desktop app and agent."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from atom_desktop.config.config_file import read_config_file
from atom_desktop.config.paths import AppPaths
from atom_desktop.core.alert_kinds import AlertKind
from atom_desktop.gui.app import DesktopApp
from tests.gui.conftest import WAIT_MS


def test_the_settings_turn_a_kind_off_at_once_and_for_the_next_start(
    qtbot: QtBot, desktop: DesktopApp, paths: AppPaths
) -> None:
    box = desktop.window.settings_page.alerts
    runtime = desktop.host.runtime
    assert runtime is not None
    assert all(b.isChecked() for b in box.boxes.values())

    box.boxes[AlertKind.DISK_FULL].setChecked(False)

    assert read_config_file(paths.config_file) == {"alerts_disk_full": False}
    qtbot.waitUntil(lambda: not runtime.alerts.enabled(AlertKind.DISK_FULL), timeout=WAIT_MS)
    assert runtime.alerts.enabled(AlertKind.AUTOMATION_FAILED)
    assert box.note.text() == f"Saved to {paths.config_file}."
