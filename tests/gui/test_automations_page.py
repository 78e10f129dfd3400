"""The Automations page against a real agent: the editor, history, missed times, approvals.

Qt runs offscreen; the agent runs on its own thread exactly as in the app. The
editor is filled the way a person fills it and saved with its Save button's slot.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QTreeWidget, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from atom_desktop.automations.model import AutomationSpec
from atom_desktop.core.events import ApprovalChanged, Event
from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.automation_editor import AutomationEditor
from atom_desktop.gui.pages.automations import AutomationsPage
from atom_desktop.gui.pages.console import RunTab
from atom_desktop.gui.pages.step_forms import HttpStepForm, ShellStepForm
from atom_desktop.gui.tray import Tray

WAIT_MS = 15_000


def show_page(app: DesktopApp) -> AutomationsPage:
    app.window.show_page(PAGES.index("Automations"))
    return app.window.automations


def rows(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    return [item for i in range(tree.topLevelItemCount()) if (item := tree.topLevelItem(i))]


def row(page: AutomationsPage, name: str) -> QTreeWidgetItem | None:
    return next((item for item in rows(page.table) if item.text(0) == name), None)


def cell(page: AutomationsPage, name: str, index: int) -> str:
    item = row(page, name)
    return item.text(index) if item is not None else ""


def column(tree: QTreeWidget, index: int) -> list[str]:
    return [item.text(index) for item in rows(tree)]


def create(qtbot: QtBot, app: DesktopApp, spec: dict[str, Any]) -> str:
    """Store an automation through the agent; its id."""
    made: list[Any] = []
    model = AutomationSpec.model_validate(spec)
    app.host.call(lambda rt: jobs.create_automation(rt, model), made.append)
    qtbot.waitUntil(lambda: bool(made), timeout=WAIT_MS)
    return str(made[0].record.id)


def test_create_preview_run_toggle_and_delete(qtbot: QtBot, desktop: DesktopApp) -> None:
    page = show_page(desktop)
    assert not page.empty.isHidden()
    editor = page.new_automation()
    editor.name.setText("Say hello")
    trigger = editor.add_trigger({"type": "cron"})
    trigger.zone.set_zone("UTC")
    trigger.expression.setText("*/5 * * * *")
    qtbot.waitUntil(lambda: len(trigger.preview_times) == 5, timeout=WAIT_MS)
    assert all(t.minute % 5 == 0 and t.second == 0 for t in trigger.preview_times)
    assert len(trigger.preview.text().splitlines()) == 6  # a heading and five times
    assert trigger.error.isHidden()

    trigger.expression.setText("61 * * * *")
    qtbot.waitUntil(lambda: not trigger.error.isHidden(), timeout=WAIT_MS)
    assert trigger.error.text().startswith("expression: '61 * * * *' is not a valid schedule")
    assert trigger.preview_times == []

    step = editor.add_step({"type": "shell"})
    assert isinstance(step, ShellStepForm)
    step.command.setPlainText("echo hello-from-automation")
    # The form is valid JSON, but the agent refuses the schedule and says where.
    editor._accept_if_valid()
    qtbot.waitUntil(lambda: "triggers[0].expression" in editor.error.text(), timeout=WAIT_MS)
    assert not editor.error.isHidden()
    assert editor.tabs.currentWidget() is editor.triggers
    assert editor.save_button.isEnabled()

    trigger.expression.setText("*/5 * * * *")
    editor._accept_if_valid()
    qtbot.waitUntil(lambda: editor.result() == QDialog.DialogCode.Accepted, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row(page, "Say hello") is not None, timeout=WAIT_MS)
    item = row(page, "Say hello")
    assert item is not None and item.text(1) == "On"
    # Relative, with the exact time in the tooltip.
    assert re.fullmatch(r"in a moment|in \d+ min", item.text(2)), item.text(2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", item.toolTip(2))
    assert item.text(3) == "never run"
    assert item.text(4) == "cron */5 * * * *"
    selected = page.selected()
    assert selected is not None and selected.record.name == "Say hello"

    # Run now: the run shows in the history with its step's result and output.
    page.run_selected()
    qtbot.waitUntil(lambda: column(page.runs_tree, 2) == ["Succeeded"], timeout=WAIT_MS)
    assert column(page.runs_tree, 1) == ["manual"]
    qtbot.waitUntil(lambda: column(page.steps_tree, 2) == ["Succeeded"], timeout=WAIT_MS)
    assert column(page.steps_tree, 3) == ["exit 0"]
    assert "hello-from-automation" in page.details.toPlainText()
    qtbot.waitUntil(lambda: cell(page, "Say hello", 3).startswith("Succeeded"), timeout=WAIT_MS)

    # Its output opens in the Console.
    assert page.open_output_button.isEnabled()
    page.open_selected_output()
    qtbot.waitUntil(lambda: desktop.window.page_name() == "Console", timeout=WAIT_MS)
    tab = desktop.window.console.tabs.currentWidget()
    assert isinstance(tab, RunTab)
    assert tab.command == "echo hello-from-automation"
    qtbot.waitUntil(lambda: "hello-from-automation" in tab.view.plain_text(), timeout=WAIT_MS)

    # The tray's menu lists it, and running it from there adds a run to the history.
    show_page(desktop)
    menu = desktop.tray.automations_menu
    qtbot.waitUntil(lambda: [a.text() for a in menu.actions()] == ["Say hello"], timeout=WAIT_MS)
    assert menu.isEnabled()
    menu.actions()[0].trigger()
    qtbot.waitUntil(
        lambda: column(page.runs_tree, 2) == ["Succeeded", "Succeeded"], timeout=WAIT_MS
    )

    # Disable, enable, delete.
    page.toggle_selected()
    qtbot.waitUntil(lambda: cell(page, "Say hello", 1) == "Off", timeout=WAIT_MS)
    assert cell(page, "Say hello", 2) == "—"
    assert page.enable_button.text() == "Enable"
    page.toggle_selected()
    qtbot.waitUntil(lambda: cell(page, "Say hello", 1) == "On", timeout=WAIT_MS)
    assert page.enable_button.text() == "Disable"

    # Editing keeps what was there.
    again = page.edit_selected()
    assert again is not None
    assert again.trigger_forms()[0].expression.text() == "*/5 * * * *"
    again.name.setText("Say hello twice")
    again._accept_if_valid()
    qtbot.waitUntil(lambda: row(page, "Say hello twice") is not None, timeout=WAIT_MS)
    assert column(page.runs_tree, 2) == ["Succeeded", "Succeeded"]  # its history stays

    page.delete_selected(confirm=False)
    qtbot.waitUntil(lambda: page.table.topLevelItemCount() == 0, timeout=WAIT_MS)
    assert not page.empty.isHidden()
    assert page.runs_tree.topLevelItemCount() == 0


def test_an_approval_waits_in_the_inbox_and_the_tray(
    qtbot: QtBot, desktop: DesktopApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes: list[tuple[str, str]] = []
    monkeypatch.setattr(
        desktop.tray, "notify", lambda title, message, **_: notes.append((title, message))
    )
    page = show_page(desktop)
    automation_id = create(
        qtbot,
        desktop,
        {
            "name": "Careful",
            "approval": "ask",
            "steps": [
                {"type": "shell", "shell": "echo approved-ran"},
                {"type": "notify", "title": "Careful done", "message": "all good"},
            ],
        },
    )
    qtbot.waitUntil(lambda: row(page, "Careful") is not None, timeout=WAIT_MS)
    page.select(automation_id)
    assert cell(page, "Careful", 2) == "by hand only"
    page.run_selected()

    inbox = page.approvals
    qtbot.waitUntil(lambda: inbox.table.topLevelItemCount() == 1, timeout=WAIT_MS)
    pending = rows(inbox.table)[0]
    assert [pending.text(i) for i in range(3)] == ["Careful", "echo approved-ran", "1"]
    assert re.fullmatch(r"in (59 min|1 h)", pending.text(4)), pending.text(4)
    assert page.sections.tabText(page.approvals_index) == "Approvals (1)"
    assert desktop.tray.approvals_action.text() == "Approvals (1)"
    assert desktop.tray.approvals_action.isVisible()
    assert "1 approval waiting" in desktop.tray.icon.toolTip()
    assert ("Approval needed: echo approved-ran", "Approve or deny it in ATOM Desktop.") in notes
    qtbot.waitUntil(lambda: column(page.runs_tree, 2) == ["Waiting for approval"], timeout=WAIT_MS)

    # The tray's entry opens the window on the inbox.
    desktop.window.show_page(0)
    desktop.tray.approvals_action.trigger()
    assert desktop.window.page_name() == "Automations"
    assert page.sections.currentIndex() == page.approvals_index

    inbox.decide_selected(approve=True)
    qtbot.waitUntil(lambda: column(page.runs_tree, 2) == ["Succeeded"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: inbox.table.topLevelItemCount() == 0, timeout=WAIT_MS)
    assert not inbox.empty.isHidden()
    assert not desktop.tray.approvals_action.isVisible()
    assert page.sections.tabText(page.approvals_index) == "Approvals (0)"
    # The notify step reached the desktop; the shell step's own run stayed quiet.
    qtbot.waitUntil(lambda: ("Careful done", "all good") in notes, timeout=WAIT_MS)
    assert not any(title.startswith("Run ") for title, _ in notes)
    runtime = desktop.host.runtime
    assert runtime is not None
    decided = runtime.store.automation_runs.approvals(status="approved")
    assert [a.decided_by for a in decided] == [jobs.WINDOW_ACTOR]
    assert "approval.approve" in {e.action for e in runtime.audit.page(20)}

    # A denied command fails its run, and says so.
    page.run_selected()
    qtbot.waitUntil(lambda: inbox.table.topLevelItemCount() == 1, timeout=WAIT_MS)
    inbox.decide_selected(approve=False)
    qtbot.waitUntil(lambda: column(page.runs_tree, 2)[:1] == ["Failed"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: column(page.steps_tree, 2) == ["Denied"], timeout=WAIT_MS)
    assert "not approved: denied by desktop app" in column(page.steps_tree, 3)[0]
    assert not page.open_output_button.isEnabled()


def test_missed_times_are_listed(qtbot: QtBot, desktop: DesktopApp) -> None:
    page = show_page(desktop)
    done: list[object] = []
    desktop.host.call(lambda rt: jobs.set_paused(rt, True), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)
    automation_id = create(
        qtbot,
        desktop,
        {
            "name": "Every second",
            "triggers": [{"type": "interval", "seconds": 1}],
            "steps": [{"type": "notify", "title": "tick"}],
        },
    )
    runtime = desktop.host.runtime
    assert runtime is not None
    qtbot.waitUntil(
        lambda: len(runtime.store.automations.missed(automation_id)) >= 2, timeout=WAIT_MS
    )
    desktop.host.call(lambda rt: jobs.set_paused(rt, False))
    qtbot.waitUntil(lambda: row(page, "Every second") is not None, timeout=WAIT_MS)
    page.select(automation_id)
    page.refresh_history()
    qtbot.waitUntil(lambda: page.missed_tree.topLevelItemCount() >= 2, timeout=WAIT_MS)
    assert set(column(page.missed_tree, 1)) == {"the agent was paused"}
    assert set(column(page.missed_tree, 2)) == {"skipped"}
    assert page.detail_tabs.tabText(1).startswith("Missed times (")


FULL_SPEC: dict[str, Any] = {
    "name": "Nightly report",
    "description": "Builds and sends the report",
    "enabled": False,
    "triggers": [
        {"type": "cron", "expression": "30 2 * * 1-5", "timezone": "Europe/Berlin"},
        {"type": "interval", "seconds": 5400, "start": "2030-01-02T03:04:05", "timezone": "UTC"},
        {"type": "date", "at": "2030-06-01T09:00:00", "timezone": "America/New_York"},
        {
            "type": "file",
            "paths": ["/tmp/in", "/tmp/other"],
            "events": ["created", "moved"],
            "include": ["*.csv", "reports/**/*.txt"],
            "exclude": ["*.tmp"],
            "recursive": False,
            "debounce_s": 2.5,
        },
    ],
    "steps": [
        {
            "type": "shell",
            "name": "build",
            "shell": "make report",
            "cwd": "/tmp",
            "env": {"MODE": "fast"},
            "timeout_s": 600,
        },
        {
            "type": "http",
            "method": "POST",
            "url": "https://example.com/hook",
            "headers": {"X-Token": "${trigger.payload}"},
            "json": {"text": "${steps.build.stdout}", "n": [1, 2]},
            "expect_status": [200, 204],
            "continue_on_failure": True,
        },
        {"type": "notify", "title": "Report", "message": "Done: ${run.id}"},
        {"type": "task", "action": "update", "task_id": "abc", "fields": {"status": "done"}},
    ],
    "on_failure": [{"type": "notify", "title": "Report failed"}],
    "approval": "ask",
    "approval_timeout_s": 120,
    "missed": "all",
    "misfire_grace_s": 30,
    "overlap": "queue",
    "timeout_s": None,
    "notify": {"success": True, "failure": False},
}


def test_the_json_tab_round_trips_with_the_form(qtbot: QtBot) -> None:
    spec = AutomationSpec.model_validate(FULL_SPEC)
    editor = AutomationEditor(spec, automation_id="x")
    qtbot.addWidget(editor)
    assert [f.kind() for f in editor.trigger_forms()] == ["cron", "interval", "date", "file"]
    assert editor.trigger_forms()[1].unit.currentText() == "minutes"
    assert [f.kind for f in editor.step_forms()] == ["shell", "http", "notify", "task"]

    editor.tabs.setCurrentIndex(editor.json_index)
    data = json.loads(editor.json_text.toPlainText())
    assert AutomationSpec.model_validate(data) == spec  # the form lost nothing
    assert list(data)[:3] == ["name", "description", "enabled"]

    data["name"] = "Renamed"
    data["triggers"][0]["expression"] = "0 9 * * 1-5"
    data["steps"].append({"type": "notify", "title": "added"})
    editor.json_text.setPlainText(json.dumps(data))
    editor.tabs.setCurrentIndex(0)
    assert editor.tabs.currentIndex() == 0
    assert editor.name.text() == "Renamed"
    assert editor.trigger_forms()[0].expression.text() == "0 9 * * 1-5"
    assert len(editor.step_forms()) == 5
    assert editor.validated_spec() == AutomationSpec.model_validate(data)

    # Broken JSON keeps the person on the JSON tab, told where.
    editor.tabs.setCurrentIndex(editor.json_index)
    editor.json_text.setPlainText('{"name": ')
    editor.tabs.setCurrentIndex(2)
    assert editor.tabs.currentIndex() == editor.json_index
    assert editor.error.text().startswith("JSON: line 1")
    assert not editor.error.isHidden()
    editor.json_text.setPlainText('{"name": "x", "triggers": [{"type": "cron"}]}')
    editor.tabs.setCurrentIndex(2)
    assert editor.tabs.currentIndex() == editor.json_index
    assert editor.error.text().startswith("triggers[0].expression: Field required")


def test_the_editor_names_what_is_wrong_and_where(qtbot: QtBot) -> None:
    editor = AutomationEditor()
    qtbot.addWidget(editor)
    saved: list[AutomationSpec] = []
    editor.save_requested.connect(saved.append)
    editor._accept_if_valid()
    assert editor.error.text().splitlines() == [
        "name: String should have at least 1 character",
        "steps: List should have at least 1 item after validation, not 0",
    ]
    editor.name.setText("Web hook")
    http = editor.add_step({"type": "http"})
    assert isinstance(http, HttpStepForm)
    http.url.setText("ftp://example.com")
    http.headers.setPlainText("no separator here")
    editor.tabs.setCurrentIndex(editor.json_index)  # the form cannot become JSON yet
    assert editor.tabs.currentWidget() is editor.steps
    assert not editor.error.isHidden()
    editor.tabs.setCurrentIndex(0)
    editor._accept_if_valid()
    assert editor.error.text() == "steps[0].headers: line 1 should look like Name: value"
    assert not editor.error.isHidden()
    assert editor.tabs.currentWidget() is editor.steps
    http.headers.setPlainText("Accept: text/plain")
    editor._accept_if_valid()
    assert editor.error.text() == (
        "steps[0].url: Value error, must be an http:// or https:// address"
        " (or start with a ${...} reference)"
    )
    http.url.setText("https://example.com")
    editor.add_step({"type": "notify"})
    editor.steps.move_selected(-1)
    assert [f.kind for f in editor.step_forms()] == ["notify", "http"]
    editor._accept_if_valid()
    assert editor.error.text().startswith("steps[0].title:")
    editor.steps.remove_current()
    editor._accept_if_valid()
    assert saved and saved[0].steps[0].type == "http"
    assert saved[0].steps[0].headers == {"Accept": "text/plain"}
    assert not editor.save_button.isEnabled()  # until the agent answers


def test_the_tray_counts_pending_approvals(qtbot: QtBot) -> None:
    tray = Tray()
    tray.agent_ready = True
    assert not tray.approvals_action.isVisible()

    def approval(number: int, status: str) -> Event:
        payload = ApprovalChanged(
            approval_id=f"a{number % 2}", automation_id="x", status=status, command="make"
        )
        return Event(number, datetime.now(UTC), payload)

    tray.on_event(approval(1, "pending"))
    tray.on_event(approval(2, "pending"))
    assert tray.approvals_action.text() == "Approvals (2)"
    assert tray.approvals_action.isVisible()
    assert tray.icon.toolTip() == "ATOM Desktop: idle · 2 approvals waiting"
    requested: list[bool] = []
    tray.approvals_requested.connect(lambda: requested.append(True))
    tray.approvals_action.trigger()
    assert requested == [True]
    tray.on_event(approval(3, "expired"))
    tray.on_event(approval(4, "approved"))
    assert not tray.approvals_action.isVisible()
    assert tray.icon.toolTip() == "ATOM Desktop: idle"
    tray.set_approvals({"b": "echo"})
    assert tray.approvals_action.text() == "Approvals (1)"
