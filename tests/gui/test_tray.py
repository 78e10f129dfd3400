"""The tray's state, tooltip and menu follow the agent's events."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from atom_desktop.core.events import Event, RunChanged, RunnerPaused
from atom_desktop.gui.tray import Tray


def event(payload: RunChanged | RunnerPaused, number: int = 1) -> Event:
    return Event(number, datetime.now(UTC), payload)


def test_state_follows_runs_pauses_and_errors(qtbot: QtBot) -> None:
    tray = Tray()
    finished: list[tuple[str, str]] = []
    tray.notify_run.connect(lambda run_id, status: finished.append((run_id, status)))
    tray.agent_ready = True
    tray.update()
    assert tray.state() == "idle"
    assert tray.icon.toolTip() == "ATOM Desktop: idle"

    tray.on_event(event(RunChanged(run_id="r1", status="running")))
    tray.on_event(event(RunChanged(run_id="r2", status="queued"), 2))
    assert tray.state() == "running"
    assert tray.icon.toolTip() == "ATOM Desktop: 2 running"
    assert tray.runs_menu.title() == "Running (2)"
    submenus = [action.menu() for action in tray.runs_menu.actions()]
    cancels = [menu.actions()[0] for menu in submenus if isinstance(menu, QMenu)]
    assert [a.text() for a in cancels] == ["Cancel", "Cancel"]
    cancelled: list[str] = []
    tray.cancel_requested.connect(cancelled.append)
    cancels[1].trigger()
    assert cancelled == ["r2"]

    tray.on_event(event(RunChanged(run_id="r1", status="failed"), 3))
    assert finished == [("r1", "failed")]
    tray.on_event(event(RunnerPaused(paused=True), 4))
    assert tray.state() == "paused"  # a pause matters more than what still runs
    tray.on_event(event(RunChanged(run_id="r2", status="cancelled"), 5))
    assert tray.running == {}
    assert finished == [("r1", "failed"), ("r2", "cancelled")]
    assert tray.pause_action.text() == "Resume agent"
    requested: list[bool] = []
    tray.pause_requested.connect(requested.append)
    tray.pause_action.trigger()
    assert requested == [False]  # paused now, so the action resumes

    tray.set_error("The database key is missing.")
    assert tray.state() == "error"
    assert "key is missing" in tray.icon.toolTip()
    tray.set_error(None)
    assert tray.state() == "paused"
