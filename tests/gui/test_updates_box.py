"""The Settings page's Updates box, on the real desktop app and agent."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from atom_desktop.config.config_file import read_config_file
from atom_desktop.config.paths import AppPaths
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.pages.updates_box import describe
from atom_desktop.updates.status import UpdateState, UpdateStatus, UpdateStatusChanged


def test_from_source_the_box_says_why_updates_are_off_and_saves_the_opt_out(
    qtbot: QtBot, desktop: DesktopApp, paths: AppPaths
) -> None:
    box = desktop.window.settings_page.updates
    qtbot.waitUntil(lambda: "Running from source" in box.status.text())
    assert box.status.text() == "Updates are off. Running from source: update with git."
    assert not box.install_button.isEnabled()
    assert not box.check_now_button.isEnabled()
    assert box.check.isChecked()

    box.check.setChecked(False)
    assert read_config_file(paths.config_file) == {"update_check": False}
    assert "next start" in box.note.text()


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (UpdateStatus(UpdateState.UP_TO_DATE, "0.1.0"), "Up to date (version 0.1.0)."),
        (
            UpdateStatus(UpdateState.DOWNLOADING, "0.1.0", available="0.2.0", received=5, total=10),
            "Downloading version 0.2.0 (50 %)…",
        ),
        (
            UpdateStatus(UpdateState.DEFERRED, "0.1.0", message="Waiting: 2 runs are active."),
            "Waiting: 2 runs are active.",
        ),
        (
            UpdateStatus(UpdateState.ROLLED_BACK, "0.1.0", message="Rolled back to 0.1.0: …"),
            "Rolled back to 0.1.0: …",
        ),
    ],
    ids=["up-to-date", "downloading", "deferred", "rolled-back"],
)
def test_status_lines(status: UpdateStatus, text: str) -> None:
    assert describe(status) == text


def test_install_now_is_offered_only_for_a_ready_update(qtbot: QtBot, desktop: DesktopApp) -> None:
    box = desktop.window.settings_page.updates
    box.show_status(UpdateStatus(UpdateState.READY, "0.1.0", message="ready", available="0.2.0"))
    assert box.install_button.isEnabled()
    box.show_status(UpdateStatus(UpdateState.DEFERRED, "0.1.0", message="waiting"))
    assert not box.install_button.isEnabled()


def test_the_window_quits_when_the_agent_hands_over_to_an_update(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    runtime = desktop.host.runtime
    assert runtime is not None
    with qtbot.waitSignal(desktop.host.stopped, timeout=30_000):
        # What the update service publishes just before it asks the agent to stop.
        runtime.bus.publish(
            UpdateStatusChanged(
                state="applying",
                message="Installing version 0.2.0; the app restarts.",
                available="0.2.0",
                received=0,
                total=0,
                runs_active=0,
            )
        )
    assert desktop.quitting
    assert not desktop.window.isVisible()
    desktop.host.stop()
