"""Settings, Automations, Sync and Integrations explain themselves and cut no column.

Each list, empty in a new profile, says what will appear there and offers
the action that makes it appear; pressing that button does it. Filled with
long values, no column is narrower than its content while the view has room
(measured from the view's geometry), and statuses are chips.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.column_sizing import cut_columns
from atom_desktop.gui.pages.automation_editor import AutomationEditor
from atom_desktop.gui.pages.token_dialogs import NewTokenDialog

WAIT_MS = 15_000


def shown(qtbot: QtBot, desktop: DesktopApp, name: str) -> None:
    window = desktop.window
    window.resize(1100, 720)
    window.show()
    qtbot.waitExposed(window)
    window.show_page(window.rail.row(window.rail.findItems(name, Qt.MatchFlag.MatchExactly)[0]))


def test_settings_without_tokens_offers_to_make_one(qtbot: QtBot, desktop: DesktopApp) -> None:
    shown(qtbot, desktop, "Settings")
    page = desktop.window.settings_page
    # Only the owner token (the command line's) is there: none made by the person.
    qtbot.waitUntil(page.tokens_empty.isVisible, timeout=WAIT_MS)
    assert page.tokens.topLevelItemCount() == 1
    assert page.tokens_empty.button is not None

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, NewTokenDialog):
            opened.append(dialog)
            dialog.reject()
        else:
            QTimer.singleShot(10, cancel)

    opened: list[NewTokenDialog] = []
    QTimer.singleShot(0, cancel)
    page.tokens_empty.button.click()
    assert opened, "the empty state's button opens the New token dialog"


def test_token_columns_are_not_cut(qtbot: QtBot, desktop: DesktopApp) -> None:
    runtime = desktop.host.runtime
    assert runtime is not None
    runtime.tokens.create("a-rather-long-token-name-for-the-nightly-backup", ["read"])
    shown(qtbot, desktop, "Settings")
    page = desktop.window.settings_page
    page.refresh()
    qtbot.waitUntil(lambda: page.tokens.topLevelItemCount() == 2, timeout=WAIT_MS)
    assert page.tokens_empty.isHidden()
    item = next(
        page.tokens.topLevelItem(i)
        for i in range(2)
        if page.tokens.topLevelItem(i).text(0).startswith("a-rather")  # type: ignore[union-attr]
    )
    assert item is not None
    # Relative times, the exact one in the tooltip.
    assert item.text(2) == "just now" and item.toolTip(2)
    assert item.text(3) == "never"
    qtbot.waitUntil(lambda: not cut_columns(page.tokens), timeout=WAIT_MS)


def test_automations_empty_state_makes_an_automation(qtbot: QtBot, desktop: DesktopApp) -> None:
    shown(qtbot, desktop, "Automations")
    page = desktop.window.automations
    qtbot.waitUntil(page.empty.isVisible, timeout=WAIT_MS)
    assert page.empty.button is not None
    page.empty.button.click()
    qtbot.waitUntil(
        lambda: isinstance(QApplication.activeModalWidget(), AutomationEditor), timeout=WAIT_MS
    )
    editor = QApplication.activeModalWidget()
    assert editor is not None
    editor.close()


def test_approvals_empty_state_leads_to_a_new_automation(qtbot: QtBot, desktop: DesktopApp) -> None:
    shown(qtbot, desktop, "Automations")
    window = desktop.window
    window.show_approvals()
    inbox = window.automations.approvals
    qtbot.waitUntil(inbox.empty.isVisible, timeout=WAIT_MS)
    assert inbox.empty.button is not None
    inbox.empty.button.click()
    qtbot.waitUntil(
        lambda: isinstance(QApplication.activeModalWidget(), AutomationEditor), timeout=WAIT_MS
    )
    editor = QApplication.activeModalWidget()
    assert editor is not None
    editor.close()


def test_sync_without_conflicts_leads_to_the_server_setting(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    shown(qtbot, desktop, "Sync")
    page = desktop.window.sync_page
    page.activateWindow()
    qtbot.waitUntil(lambda: page.conflicts_stack.showing_empty, timeout=WAIT_MS)
    assert page.conflicts_empty.button is not None
    page.conflicts_empty.button.click()
    qtbot.waitUntil(page.connection.url.hasFocus, timeout=WAIT_MS)


def test_integrations_without_accounts_leads_to_the_catalogue(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    shown(qtbot, desktop, "Integrations")
    page = desktop.window.integrations_page
    page.activateWindow()
    qtbot.waitUntil(page.empty_panel.isVisible, timeout=WAIT_MS)
    page.browse_button.click()
    qtbot.waitUntil(page.filter.hasFocus, timeout=WAIT_MS)
