"""Home, Tasks, Console and Activity explain themselves (issue 23): empty states with
their action, columns that fit their content, chips for every status, one-click re-run,
notifications that cover no control.

Against a real agent, as the other page tests; Qt offscreen.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog
from pytestqt.qtbot import QtBot

from atom_desktop.core.statuses import RunStatus
from atom_desktop.gui import jobs
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.column_sizing import cut_columns
from atom_desktop.gui.empty_state import EmptyStateStack
from atom_desktop.gui.icons import page_icon
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.task_dialog import TaskDialog
from atom_desktop.gui.run_list import NOTE_ROLE, RunList
from atom_desktop.gui.status_chip import STATUS_ROLE
from atom_desktop.gui.style import current_theme
from atom_desktop.store.runs import RunRecord
from atom_desktop.store.task_types import Task, TaskCreate

WAIT_MS = 15_000
LONG_PATH = "/home/someone/projects/" + "deeply/nested/" * 12 + "build/output.log"
LONG_COMMAND = f"tail -n 200 {LONG_PATH} | grep --color=always -E 'error|warning' # end"


def click(stack: EmptyStateStack) -> None:
    button = stack.empty.button
    assert button is not None and button.accessibleName()
    button.click()


def showing_empty(stack: EmptyStateStack) -> bool:
    return stack.showing_empty


def cancel_next_dialog(kind: type[QDialog], seen: list[QDialog]) -> None:
    """When the next modal dialog of ``kind`` opens, note it and close it."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, kind):
            QTimer.singleShot(10, act)
            return
        seen.append(dialog)
        dialog.reject()

    QTimer.singleShot(0, act)


def test_a_new_profile_says_what_will_appear_and_how(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    window.resize(1100, 720)
    window.show()
    home = window.home
    home.refresh()
    for key in ("running", "failures", "automations", "recent"):
        card = home.cards[key]
        qtbot.waitUntil(functools.partial(showing_empty, card), timeout=WAIT_MS)
        assert card.empty.title.text() and card.empty.text.text()
    # Home's "Type a command" puts the cursor where commands are typed.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    click(home.cards["running"])
    qtbot.waitUntil(home.command.hasFocus, timeout=WAIT_MS)
    click(home.cards["automations"])
    assert window.page_name() == "Automations"

    # Tasks: the button opens the new-task dialog.
    window.show_page(PAGES.index("Tasks"))
    tasks = window.tasks
    tasks.refresh()
    qtbot.waitUntil(lambda: tasks.stack.showing_empty, timeout=WAIT_MS)
    assert tasks.empty.title.text() == "No tasks yet"
    seen: list[QDialog] = []
    cancel_next_dialog(TaskDialog, seen)
    click(tasks.stack)
    assert len(seen) == 1

    # Console: no history, no tab; "Run a command" leads to Home's box.
    window.show_page(PAGES.index("Console"))
    console = window.console
    console.refresh_history()
    qtbot.waitUntil(lambda: console.history_stack.showing_empty, timeout=WAIT_MS)
    assert console.empty.isVisible()
    home.run_button.setFocus()
    window.activateWindow()  # the dialog above had it
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    click(console.history_stack)
    assert window.page_name() == "Home"
    qtbot.waitUntil(home.command.hasFocus, timeout=WAIT_MS)

    # Activity: nothing audited yet.
    window.show_page(PAGES.index("Activity"))
    activity = window.activity
    activity.refresh()
    qtbot.waitUntil(lambda: activity.audit_stack.showing_empty, timeout=WAIT_MS)
    click(activity.audit_stack)
    assert window.page_name() == "Home"


def test_tasks_filtered_to_nothing_offer_to_clear(qtbot: QtBot, desktop: DesktopApp) -> None:
    done: list[object] = []
    desktop.host.call(
        lambda rt: jobs.create_task(rt, TaskCreate(title="Water plants")), done.append
    )
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)
    tasks = desktop.window.tasks
    desktop.window.show_page(PAGES.index("Tasks"))
    with qtbot.waitSignal(tasks.loaded, timeout=WAIT_MS):
        tasks.search.setText("no such words")
    qtbot.waitUntil(lambda: tasks.stack.showing_empty, timeout=WAIT_MS)
    assert tasks.empty.title.text() == "No tasks match"
    with qtbot.waitSignal(tasks.loaded, timeout=WAIT_MS):
        click(tasks.stack)
    qtbot.waitUntil(lambda: not tasks.stack.showing_empty, timeout=WAIT_MS)
    assert tasks.search.text() == ""


def test_long_commands_and_paths_cut_no_column(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    window.resize(1100, 720)
    window.show()
    started: list[RunRecord] = []
    desktop.host.call(lambda rt: jobs.start_shell(rt, LONG_COMMAND), started.append)
    due = datetime.now(UTC) + timedelta(days=2)
    task = TaskCreate(title=f"Read {LONG_PATH}", due_at=due, tags=["logs", "long-tag-name"])
    made: list[Task] = []
    desktop.host.call(lambda rt: jobs.create_task(rt, task), made.append)
    qtbot.waitUntil(lambda: bool(started and made), timeout=WAIT_MS)

    window.show_page(PAGES.index("Activity"))
    audit = window.activity.audit
    window.activity.refresh()
    qtbot.waitUntil(lambda: audit.topLevelItemCount() >= 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not cut_columns(audit), timeout=WAIT_MS)
    header = audit.header()
    last = header.count() - 1
    # The columns fill the view: no free space sits to the right of a cut column.
    assert header.sectionPosition(last) + header.sectionSize(last) <= audit.viewport().width()
    assert audit.topLevelItem(0).toolTip(0)  # type: ignore[union-attr] # the exact time

    window.show_page(PAGES.index("Tasks"))
    table = window.tasks.table
    window.tasks.refresh()
    qtbot.waitUntil(lambda: table.topLevelItemCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not cut_columns(table), timeout=WAIT_MS)
    item = table.topLevelItem(0)
    assert item is not None
    assert item.text(3) == "in 2 days" and item.toolTip(3)
    assert item.data(1, STATUS_ROLE) == "todo"


@pytest.mark.parametrize("status", list(RunStatus), ids=[str(s) for s in RunStatus])
def test_every_run_status_is_a_chip(qtbot: QtBot, status: RunStatus) -> None:
    now = datetime.now(UTC)
    record = RunRecord(
        id="r1", source="ui", requester=None, argv=None, shell=LONG_COMMAND, cwd="/",
        env_names=[], status=status, exit_code=2 if status == RunStatus.FAILED else None,
        signal=None, error=None, timeout_s=None, idle_timeout_s=None,
        created_at=now - timedelta(minutes=3), started_at=now - timedelta(minutes=3),
        ended_at=None, stdout_bytes=0, stderr_bytes=0, dropped_bytes=0, last_seq=0,
        peak_rss=None, cpu_s=None,
    )  # fmt: skip
    runs = RunList("Runs")
    qtbot.addWidget(runs)
    runs.show_runs([record], now)
    item = runs.item(0)
    assert item is not None
    assert item.data(STATUS_ROLE) == str(status)
    assert "3 min ago" in item.data(NOTE_ROLE)
    assert ("exit 2" in item.data(NOTE_ROLE)) == (status == RunStatus.FAILED)
    assert runs.command_of(item) == LONG_COMMAND
    assert item.data(Qt.ItemDataRole.AccessibleTextRole).endswith("3 min ago")


def test_a_failure_runs_again_in_one_click(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    home = window.home
    ended: list[RunRecord] = []
    desktop.host.call(lambda rt: jobs.start_shell(rt, "exit 3"), ended.append)
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)

    def failures() -> int:
        home.refresh()
        return home.failure_list.count()

    qtbot.waitUntil(lambda: failures() == 1, timeout=WAIT_MS)
    assert home.failure_list.item(0).data(STATUS_ROLE) == "failed"
    with qtbot.waitSignal(home.run_started, timeout=WAIT_MS) as blocker:
        home.rerun_button.click()
    run_id, command = blocker.args
    assert command == "exit 3" and run_id != ended[0].id
    assert window.page_name() == "Console"
    qtbot.waitUntil(lambda: window.console.tab_for(run_id) is not None, timeout=WAIT_MS)


def test_notifications_cover_no_control_while_the_window_is_in_front(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    window = desktop.window
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.show_page(PAGES.index("Console"))
    desktop.tray.notify("Run failed (exit 1)", LONG_COMMAND, failed=True)
    toasts = window.toasts
    qtbot.waitUntil(toasts.isVisible, timeout=WAIT_MS)
    # In the status bar, below every page: it overlaps no other control.
    bar = window.statusBar()
    assert toasts.parent() is bar
    page_bottom = window.pages.mapTo(window, window.pages.rect().bottomLeft()).y()
    assert toasts.mapTo(window, toasts.rect().topLeft()).y() > page_bottom
    toasts.close_button.click()
    assert not toasts.isVisible()


def test_the_rail_shows_the_apps_own_icons(qtbot: QtBot, desktop: DesktopApp) -> None:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    rail = window.rail

    def drawn(row: int) -> bool:
        item = rail.item(row)
        return item is not None and not item.icon().isNull()

    qtbot.waitUntil(lambda: all(drawn(row) for row in range(rail.count())), timeout=WAIT_MS)
    dark = current_theme(window).dark
    for row, name in enumerate(PAGES):
        item = rail.item(row)
        assert item is not None
        ours = page_icon(name.lower(), dark=dark).pixmap(QSize(20, 20)).toImage()
        assert item.icon().pixmap(QSize(20, 20)).toImage() == ours, name
        assert item.data(Qt.ItemDataRole.AccessibleTextRole) == name
