"""The whole window works from the keyboard: every page reached, every primary action done.

A person who cannot use a mouse moves between pages with Ctrl+1..9 or the
arrow keys on the navigation rail, moves through a page with Tab, and acts
with Space (buttons) or Enter (fields, the default button of a dialog). The
test does exactly that through real key events (shortcuts included) on the
window of a running agent; nothing is clicked or called directly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES, MainWindow
from atom_desktop.gui.pages.automation_editor import AutomationEditor
from atom_desktop.gui.pages.integration_dialogs import ProviderDialog
from atom_desktop.gui.pages.task_dialog import TaskDialog
from atom_desktop.gui.pages.token_dialogs import NewTokenDialog, TokenSecretDialog
from tests.gui.a11y_walk import describe, interactive_widgets

WAIT_MS = 15_000
#: More Tab presses than any page has controls: the focus chain must close before.
MAX_TABS = 400


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """One key, sent where the keyboard focus is (or to the active window)."""
    target = focused() or QApplication.activeWindow()
    assert target is not None, "nothing has the keyboard focus"
    QTest.keyClick(target, key, modifier)


def type_text(text: str) -> None:
    target = focused()
    assert target is not None
    QTest.keyClicks(target, text)


def tab_to(target: QWidget) -> None:
    """Press Tab until ``target`` has the focus (fails if the focus chain never reaches it)."""
    for _ in range(MAX_TABS):
        if focused() is target:
            return
        press(Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reaches {describe(target)}; it stops at {focused()!r}")


def focus_chain_from(start: QWidget) -> list[QWidget]:
    """Every widget Tab visits from ``start`` until the focus comes back to it."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    seen: list[QWidget] = []
    for _ in range(MAX_TABS):
        press(Qt.Key.Key_Tab)
        widget = focused()
        assert widget is not None
        if widget is start:
            return seen
        seen.append(widget)
    raise AssertionError("the focus chain does not close: Tab never comes back")


def when_dialog(kind: type[QDialog], act: Callable[[QDialog], None]) -> None:
    """When a dialog of ``kind`` is the active modal window, let ``act`` drive it by keys."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if not (isinstance(dialog, kind) and dialog.isVisible()):
            QTimer.singleShot(10, poll)
        elif QApplication.activeWindow() is not dialog:
            # A window manager activates a new dialog; the offscreen platform has none.
            dialog.activateWindow()
            QTimer.singleShot(10, poll)
        else:
            act(dialog)

    QTimer.singleShot(0, poll)


def active_dialog(qtbot: QtBot, kind: type[QDialog]) -> QDialog:
    """The dialog of ``kind`` that has just opened, made the active window."""
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), kind), timeout=WAIT_MS)
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, kind)
    dialog.activateWindow()  # what a window manager does; the offscreen platform has none
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=WAIT_MS)
    return dialog


@pytest.fixture
def window(qtbot: QtBot, desktop: DesktopApp) -> MainWindow:
    """The window, shown, active and with every page built."""
    window = desktop.window
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    for name in PAGES:
        window.page(name)
    window.rail.setFocus(Qt.FocusReason.OtherFocusReason)
    return window


def go_to(qtbot: QtBot, window: MainWindow, name: str) -> None:
    """The page's Ctrl+number, as its tooltip on the rail says."""
    # The tenth page is Ctrl+0.
    press(
        getattr(Qt.Key, f"Key_{(PAGES.index(name) + 1) % 10}"), Qt.KeyboardModifier.ControlModifier
    )
    qtbot.waitUntil(lambda: window.page_name() == name, timeout=WAIT_MS)


def test_every_page_is_reached_with_its_shortcut_and_with_the_rail(
    qtbot: QtBot, window: MainWindow
) -> None:
    for name in reversed(PAGES):
        go_to(qtbot, window, name)
    assert window.page_name() == PAGES[0]
    window.rail.setFocus(Qt.FocusReason.TabFocusReason)
    for name in PAGES[1:]:
        press(Qt.Key.Key_Down)
        assert window.page_name() == name
    press(Qt.Key.Key_Home)
    assert window.page_name() == PAGES[0]


def tab_stops(page: QWidget) -> list[QWidget]:
    """The controls of a page a person should reach with Tab: shown, enabled, focusable."""
    return [
        widget
        for widget in interactive_widgets(page)
        if widget.isVisibleTo(page)
        and widget.isEnabled()
        and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
    ]


@pytest.mark.parametrize("name", PAGES, ids=[p.lower() for p in PAGES])
def test_tab_reaches_every_control_of_a_page(qtbot: QtBot, window: MainWindow, name: str) -> None:
    go_to(qtbot, window, name)
    page = window.page(name)
    expected = tab_stops(page)
    assert expected, f"{name} has no control to reach"
    chain = focus_chain_from(window.rail)
    missed = [describe(w) for w in expected if w not in chain]
    assert missed == [], f"Tab never reaches these controls of {name}"


# -- each page's primary action, by keyboard alone ------------------------------------------


def test_home_runs_a_quick_command(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Home")
    tab_to(window.home.command)
    type_text("echo from-the-keyboard")
    with qtbot.waitSignal(window.home.run_started, timeout=WAIT_MS):
        press(Qt.Key.Key_Return)


def test_tasks_new_task(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Tasks")
    page = window.tasks

    def fill(dialog: QDialog) -> None:
        type_text("Written by keyboard")
        press(Qt.Key.Key_Return)

    tab_to(page.new_button)
    when_dialog(TaskDialog, fill)
    press(Qt.Key.Key_Space)
    table = page.table
    qtbot.waitUntil(
        lambda: any(
            table.topLevelItem(i).text(0) == "Written by keyboard"  # type: ignore[union-attr]
            for i in range(table.topLevelItemCount())
        ),
        timeout=WAIT_MS,
    )


def test_console_reruns_a_run(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Home")
    tab_to(window.home.command)
    type_text("echo again")
    with qtbot.waitSignal(window.home.run_started, timeout=WAIT_MS):
        press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.page_name() == "Console", timeout=WAIT_MS)
    console = window.console
    tab = console.tabs.currentWidget()
    assert tab is not None
    qtbot.waitUntil(lambda: tab.finished, timeout=WAIT_MS)  # type: ignore[attr-defined]
    before = console.tabs.count()
    tab_to(tab.rerun_button)  # type: ignore[attr-defined]
    press(Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: console.tabs.count() > before, timeout=WAIT_MS)


def test_activity_moves_through_the_live_events(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Home")
    tab_to(window.home.command)
    type_text("echo for-the-log")
    with qtbot.waitSignal(window.home.run_started, timeout=WAIT_MS):
        press(Qt.Key.Key_Return)
    go_to(qtbot, window, "Activity")
    events = window.activity.events
    qtbot.waitUntil(lambda: events.count() > 1, timeout=WAIT_MS)
    tab_to(events)
    press(Qt.Key.Key_End)
    assert events.currentRow() == events.count() - 1
    press(Qt.Key.Key_Home)
    assert events.currentRow() == 0


def test_settings_new_token(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Settings")
    page = window.settings_page

    def fill(dialog: QDialog) -> None:
        type_text("keyboard-token")
        press(Qt.Key.Key_Return)

    tab_to(page.new_token_button)
    when_dialog(NewTokenDialog, fill)
    press(Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: (
            isinstance(getattr(page, "last_secret_dialog", None), TokenSecretDialog)
            and page.last_secret_dialog.isVisible()
        ),
        timeout=WAIT_MS,
    )
    active_dialog(qtbot, TokenSecretDialog)
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not page.last_secret_dialog.isVisible(), timeout=WAIT_MS)


def test_automations_new_automation(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Automations")
    page = window.automations
    tab_to(page.new_button)
    press(Qt.Key.Key_Space)
    editor = active_dialog(qtbot, AutomationEditor)
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not editor.isVisible(), timeout=WAIT_MS)


def test_sync_tests_a_server(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Sync")
    form = window.sync_page.connection
    tab_to(form.url)
    # Nothing listens on port 1: the test fails at once, and says so.
    type_text("postgresql://nobody@127.0.0.1:1/atom")
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: form.result.isVisible() and bool(form.result.text()), timeout=WAIT_MS)


def test_integrations_opens_a_connect_dialog(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Integrations")
    page = window.integrations_page
    qtbot.waitUntil(lambda: bool(page.providers), timeout=WAIT_MS)
    tab_to(page.browse_button)
    press(Qt.Key.Key_Space)
    assert focused() is page.filter
    type_text("GitHub")
    # Tab from the filter reaches the first Connect button of what it leaves shown.
    for _ in range(MAX_TABS):
        press(Qt.Key.Key_Tab)
        widget = focused()
        if widget is not None and widget.property("text") in ("Connect…", "Add key…"):
            break
    else:
        raise AssertionError("Tab never reaches a Connect button in the catalogue")
    press(Qt.Key.Key_Space)
    dialog = active_dialog(qtbot, ProviderDialog)
    press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)


def test_assistant_asks_and_approves(qtbot: QtBot, window: MainWindow) -> None:
    go_to(qtbot, window, "Assistant")
    page = window.assistant
    tab_to(page.input)
    type_text("run echo by-keyboard")
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not page.asking and len(page.cards) == 1, timeout=WAIT_MS)
    # The cursor stays in the box while the request is answered, and after.
    assert focused() is page.input

    def approve_shown() -> bool:
        card = next(iter(page.cards.values()))
        return card.rows[0].approve.isVisibleTo(page)

    qtbot.waitUntil(approve_shown, timeout=WAIT_MS)
    card = next(iter(page.cards.values()))
    tab_to(card.rows[0].approve)
    press(Qt.Key.Key_Space)
    qtbot.waitUntil(
        lambda: str(page.cards[card.plan_id].view.steps[0].record.status) == "succeeded",
        timeout=WAIT_MS,
    )
