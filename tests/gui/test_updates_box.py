"""The Settings page's Updates box, on the real desktop app and agent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from atom_desktop.config.config_file import read_config_file
from atom_desktop.config.paths import AppPaths
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.pages.updates_box import describe
from atom_desktop.updates.handover import handover_program, read_outcome, state_dir_of
from atom_desktop.updates.service import AppHandover, RunControl, UpdateService, UpdateTiming
from atom_desktop.updates.status import UpdateState, UpdateStatus
from tests.integration.updates.conftest import INSTALLED, running_version, update_lab
from tests.support.processes import stop_pid


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
        (
            UpdateStatus(UpdateState.HANDING_OVER, "0.1.0", message="Restarting in version 0.2.0."),
            "Restarting in version 0.2.0.",
        ),
    ],
    ids=["up-to-date", "downloading", "deferred", "rolled-back", "handing-over"],
)
def test_status_lines(status: UpdateStatus, text: str) -> None:
    assert describe(status) == text


def test_install_now_is_offered_only_for_a_ready_update(qtbot: QtBot, desktop: DesktopApp) -> None:
    box = desktop.window.settings_page.updates
    box.show_status(UpdateStatus(UpdateState.READY, "0.1.0", message="ready", available="0.2.0"))
    assert box.install_button.isEnabled()
    assert box.check_now_button.isEnabled()  # a newer release may replace the ready one
    box.show_status(UpdateStatus(UpdateState.DEFERRED, "0.1.0", message="waiting"))
    assert not box.install_button.isEnabled()
    box.show_status(UpdateStatus(UpdateState.HANDING_OVER, "0.1.0", message="Restarting"))
    assert not box.install_button.isEnabled()
    assert not box.check_now_button.isEnabled()


def test_install_now_hands_over_to_the_new_version_before_the_window_quits(
    qtbot: QtBot, desktop: DesktopApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole "Install now" path on the real desktop app: the window quits only
    once the handover process runs, so the update is not lost with the app."""
    runtime = desktop.host.runtime
    loop = desktop.host.loop
    assert runtime is not None and loop is not None
    box = desktop.window.settings_page.updates
    with update_lab(tmp_path) as lab, running_version(lab) as old_app:
        lab.release("0.2.0", "starts")
        runner = runtime.runner

        def quit_old_app() -> None:
            # The stand-in app quits as the real one does when asked (and is reaped).
            old_app.terminate()
            old_app.wait(10)

        service = UpdateService(
            updater=lab.updater(),
            layout=lab.layout,
            installed=INSTALLED,
            off_reason=None,
            bus=runtime.bus,
            runs=RunControl(
                active=lambda: len(runner.active_runs()),
                paused=lambda: runner.paused,
                pause=runner.async_pause,
                resume=runner.async_resume,
            ),
            handover=AppHandover(
                program=handover_program(frozen=False, executable=Path(sys.executable)),
                app_args=["serve"],
                # The stand-in of this app's process: the handover waits for it to end.
                pid=old_app.pid,
                env=dict(os.environ),
                quit=quit_old_app,
            ),
            timing=UpdateTiming(first_check_s=0, interval_s=3600, start_timeout_s=30),
        )
        monkeypatch.setattr(runtime, "updates", service)
        # What the handover had done when the window began to quit.
        at_quit: list[subprocess.Popen[bytes] | None] = []
        real_quit = desktop.quit

        def quit_and_record() -> None:
            at_quit.append(service.handover_process)
            real_quit()

        monkeypatch.setattr(desktop, "quit", quit_and_record)
        asyncio.run_coroutine_threadsafe(service.async_start(), loop).result(30)
        new_pid = None
        try:
            qtbot.waitUntil(box.install_button.isEnabled, timeout=30_000)
            assert "0.2.0 is downloaded and verified" in box.status.text()
            with qtbot.waitSignal(desktop.host.stopped, timeout=60_000):
                qtbot.mouseClick(box.install_button, Qt.MouseButton.LeftButton)
            assert desktop.quitting
            assert at_quit and at_quit[0] is not None, "the window quit before the handover ran"
            handover = at_quit[0]
            assert handover.wait(60) == 0, (state_dir_of(lab.root) / "handover.log").read_text()
            result = read_outcome(state_dir_of(lab.root))
            assert result is not None and result.outcome == "updated", result
            new_pid = result.pid
            assert lab.layout.installed_version() == "0.2.0"
        finally:
            if service.handover_process is not None:
                service.handover_process.wait(60)
            stop_pid(new_pid)
    desktop.host.stop()
