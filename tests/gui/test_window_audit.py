"""Changes made in the window are in the audit log, as the API's are, with the actor "window".

The app runs on a real agent; the log is read back through the real API
(``GET /api/v1/audit``) over HTTP, as any client would read it.
"""

from __future__ import annotations

from typing import Any

import httpx
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.activity import AUDIT_HEADER
from atom_desktop.gui.pages.task_dialog import TaskDialog

WAIT_MS = 15_000


def _audit(desktop: DesktopApp, secret: str) -> list[dict[str, Any]]:
    runtime = desktop.host.runtime
    assert runtime is not None
    response = httpx.get(
        f"http://127.0.0.1:{runtime.api_port}/api/v1/audit",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=10,
    )
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _create_task_in_the_dialog(title: str) -> None:
    """Fill the next task dialog and press its OK, as a person would."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, TaskDialog):
            QTimer.singleShot(10, act)
            return
        dialog.title.setText(title)
        dialog._accept_if_valid()  # as pressing OK does

    QTimer.singleShot(0, act)


def test_a_task_and_a_quick_command_from_the_window_are_audited_as_window(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    runtime = desktop.host.runtime
    assert runtime is not None
    _, secret = runtime.tokens.create("audit reader", ["admin"])

    # A task, made with the Tasks page's dialog.
    desktop.window.show_page(PAGES.index("Tasks"))
    _create_task_in_the_dialog("Audited from the window")
    desktop.window.tasks.new_task()

    # A quick command, typed into Home's box and run with its button.
    desktop.window.show_page(PAGES.index("Home"))
    home = desktop.window.home
    qtbot.keyClicks(home.command, "echo audited")
    qtbot.mouseClick(home.run_button, Qt.MouseButton.LeftButton)

    def window_entries() -> dict[str, dict[str, Any]]:
        return {e["action"]: e for e in _audit(desktop, secret) if e["actor"] == "window"}

    wanted = {"task.create", "run.start"}
    qtbot.waitUntil(lambda: wanted <= window_entries().keys(), timeout=WAIT_MS)
    entries = window_entries()
    task = next(t for t in runtime.store.tasks.page().items if t.title == "Audited from the window")
    assert entries["task.create"]["target"] == task.id
    assert entries["task.create"]["token_name"] is None
    assert entries["task.create"]["result"] == "ok"
    run = runtime.store.runs.page(limit=1)[0]
    assert run.shell == "echo audited"
    assert entries["run.start"]["target"] == run.id
    # The API's own requests still carry their token's name and the actor "api".
    assert all(
        e["actor"] == "api" and e["token_name"]
        for e in _audit(desktop, secret)
        if e["action"].startswith(("GET ", "POST "))
    )


def test_the_activity_page_says_what_is_recorded_and_names_the_window(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    runtime = desktop.host.runtime
    assert runtime is not None
    desktop.window.show_page(PAGES.index("Tasks"))
    _create_task_in_the_dialog("Seen on the Activity page")
    desktop.window.tasks.new_task()
    desktop.window.show_page(PAGES.index("Activity"))
    page = desktop.window.activity

    def rows() -> list[tuple[str, str]]:
        page.refresh()
        items = [page.audit.topLevelItem(i) for i in range(page.audit.topLevelItemCount())]
        return [(item.text(1), item.text(2)) for item in items if item is not None]

    qtbot.waitUntil(lambda: ("window", "task.create") in rows(), timeout=WAIT_MS)
    assert "(by <i>window</i>)" in AUDIT_HEADER
    assert "tasks" in AUDIT_HEADER and "runs started" in AUDIT_HEADER
