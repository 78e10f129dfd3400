"""Alerts in the window: a notification each, and the tray's error state until seen.

On the real desktop app and agent; the conditions are real (an automation
that fails, a service task that stops). Offscreen there is no system tray,
so a notification shows in the window's status bar (while the window is in
front); the tray's ``notification_shown`` signal says each one shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from pytestqt.qtbot import QtBot

from atom_desktop.automations.model import AutomationSpec
from atom_desktop.config.paths import AppPaths
from atom_desktop.diagnostics.reports import REPORTS_DIR_NAME
from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp
from tests.gui.conftest import WAIT_MS

if TYPE_CHECKING:
    from atom_desktop.automations.service import AutomationState
    from atom_desktop.store.runs import RunRecord

SECRET = "agent-secret-in-a-failure-9876"


def test_an_alert_keeps_the_tray_in_error_until_the_window_is_opened(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    window, tray = desktop.window, desktop.tray
    window.hide()
    assert tray.state() != "error"
    spec = AutomationSpec.model_validate(
        {"name": "nightly backup", "steps": [{"type": "shell", "shell": "exit 3"}]}
    )
    created: list[AutomationState] = []
    desktop.host.call(lambda rt: jobs.create_automation(rt, spec), created.append)
    qtbot.waitUntil(lambda: bool(created), timeout=WAIT_MS)
    automation_id = created[0].record.id
    desktop.host.call(lambda rt: jobs.trigger_automation(rt, automation_id))

    qtbot.waitUntil(lambda: tray.state() == "error", timeout=WAIT_MS)
    assert tray.icon.toolTip() == "ATOM Desktop: nightly backup: failed"
    assert tray.alerts_action.isVisible()
    assert tray.alerts_action.text() == "nightly backup: failed"

    # Opening the window from the tray's alert line (or the icon, or the notification,
    # which ask the same) is seeing the alert.
    tray.alerts_action.trigger()
    qtbot.waitUntil(window.isVisible, timeout=WAIT_MS)
    assert tray.state() != "error"
    assert not tray.alerts_action.isVisible()
    assert "failed" not in tray.icon.toolTip()


def test_a_service_that_stops_makes_one_report_and_one_notification(
    qtbot: QtBot, desktop: DesktopApp, paths: AppPaths
) -> None:
    window, tray = desktop.window, desktop.tray
    desktop.host.profile.redactor.add(SECRET)
    # Alerts do not depend on the runs' notifications; with those off, the alert is all.
    desktop.preferences.notifications = False
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    shown: list[tuple[str, str]] = []
    tray.notification_shown.connect(lambda title, message: shown.append((title, message)))
    runtime = desktop.host.runtime
    assert runtime is not None

    def broken_watch() -> NoReturn:
        raise RuntimeError(f"the process watch broke while holding {SECRET}")

    # The runner's process watch breaks at its next look, which a new run asks for.
    runtime.runner._watch_once = broken_watch  # type: ignore[method-assign]
    started: list[RunRecord] = []
    desktop.host.call(lambda rt: jobs.start_shell(rt, "sleep 0.5"), started.append)

    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    ((title, message),) = shown
    assert title == "Part of ATOM Desktop stopped: runner's process watch"
    assert window.toasts.isVisible()
    assert window.toasts.title.text() == title
    # Shown in the window in front: seen already, so no error state is left behind.
    assert tray.state() != "error"
    (report,) = (paths.data_dir / REPORTS_DIR_NAME).glob("*.json")
    text = report.read_text()
    assert "the process watch broke while holding ***" in text
    for said in (text, title, message):
        assert SECRET not in said
