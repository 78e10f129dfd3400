"""The Integrations page against a real agent, and a real OpenID Connect provider.

Qt runs offscreen; the agent runs on its own thread as in the app, with no OS
keyring (so tokens go to the encrypted database, and the page must say so).
This machine has no internet: a key for Telegram cannot be checked, and the
page shows the honest "not checked yet". The OpenID Connect provider is
npm's oidc-provider on loopback; the person in the browser is played by
:meth:`OidcProvider.login`, and the loopback callback is requested with httpx
as a browser would. The page's way out to the browser (``open_url``) is
replaced by a recorder: nothing else of the page or the agent is.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
from PySide6.QtCore import Qt, QUrl
from PySide6.QtWidgets import QLineEdit, QTreeWidgetItem
from pytestqt.qtbot import QtBot

from atom_desktop.config.paths import AppPaths
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.pages.integration_dialogs import ConnectDialog, KeyDialog
from atom_desktop.gui.pages.integrations import IntegrationsPage, list_accounts
from atom_desktop.gui.status_chip import STATUS_ROLE, StatusChipDelegate
from atom_desktop.integrations.catalogue import load_catalogue
from atom_desktop.integrations.service import Account
from tests.gui.conftest import WAIT_MS
from tests.support.oidc_provider import running_oidc_provider


class Browser:
    """Records the addresses the page opens instead of starting a browser."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def open(self, url: QUrl) -> bool:
        self.opened.append(url.toString())
        return True


def integrations_page(qtbot: QtBot, app: DesktopApp) -> IntegrationsPage:
    """The Integrations page, shown, once it has read the catalogue and the accounts."""
    app.window.show_integrations()
    page = app.window.integrations_page
    qtbot.waitUntil(lambda: page.loaded and bool(page.providers), timeout=WAIT_MS)
    return page


def row(page: IntegrationsPage, account_id: str) -> list[str]:
    """The texts of an account's row."""
    item = page.account_item(account_id)
    assert item is not None, f"{account_id} is not listed"
    return [item.text(column) for column in range(page.table.columnCount())]


def status_of(page: IntegrationsPage, account_id: str) -> str | None:
    item = page.account_item(account_id)
    return item.text(2) if item is not None else None


def group_of(page: IntegrationsPage, provider_id: str) -> str:
    """The heading of the category a provider is listed under."""
    for index in range(page.catalogue.topLevelItemCount()):
        group = page.catalogue.topLevelItem(index)
        assert group is not None
        for child_index in range(group.childCount()):
            child = group.child(child_index)
            if child is not None and child.data(0, Qt.ItemDataRole.UserRole) == provider_id:
                return group.text(0)
    raise AssertionError(f"{provider_id} is not listed")


def only_account(page: IntegrationsPage) -> str:
    (account_id,) = page.accounts
    return account_id


def test_the_catalogue_is_listed_by_category_and_filtered(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = integrations_page(qtbot, desktop)
    catalogue = list(load_catalogue())
    assert sorted(page.listed_providers()) == sorted(p.id for p in catalogue)
    groups = [page.catalogue.topLevelItem(i) for i in range(page.catalogue.topLevelItemCount())]
    titles = [g.text(0) for g in groups if isinstance(g, QTreeWidgetItem)]
    assert titles[0] == "Identity"
    assert {"Messaging and mail", "Files", "Development", "Voice"} <= set(titles)
    assert group_of(page, "oidc") == "Identity"
    assert group_of(page, "telegram") == "Messaging and mail"
    assert group_of(page, "github") == "Development"
    # How each connects is said; the button says what pressing it does.
    assert page.provider_button("github").text() == "Connect…"
    assert page.provider_button("telegram").text() == "Add key…"
    zendesk = next(p for p in page.providers.values() if p.id == "zendesk")
    assert zendesk.connects_by == "Sign in with the browser (OAuth 2.0); needs the subdomain"

    # No account yet: the list says what will be there and offers the catalogue.
    assert page.empty_panel.isVisibleTo(page)
    assert not page.table.isVisibleTo(page)
    assert page.empty.title.text() == "No accounts yet"
    assert page.browse_button.isVisibleTo(page)

    page.filter.setText("tele")
    assert page.listed_providers() == ["telegram"]
    page.filter.setText("GitHub")
    assert page.listed_providers() == ["github"]
    page.filter.setText("google_drive")  # an id
    assert page.listed_providers() == ["google_drive"]
    page.filter.setText("voice")  # a category
    assert sorted(page.listed_providers()) == sorted(
        p.id for p in catalogue if p.category.value == "voice"
    )
    page.filter.setText("nothing is called this")
    assert page.listed_providers() == []
    assert page.no_match.isVisibleTo(page)
    page.filter.clear()
    assert len(page.listed_providers()) == len(catalogue)
    assert not page.no_match.isVisibleTo(page)


def test_a_key_that_cannot_be_checked_is_kept_honestly_then_disconnected(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = integrations_page(qtbot, desktop)

    # A key and a secret for key_secret services; the secret is never shown.
    page.provider_button("twilio").click()
    twilio = page.dialog
    assert isinstance(twilio, KeyDialog)
    assert list(twilio.secrets) == ["key", "secret"]
    assert twilio.secrets["secret"].echoMode() == QLineEdit.EchoMode.Password
    assert list(twilio.parameters) == ["account_sid"]
    twilio.reject()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)

    # A value the service refuses is said in the dialog, which stays open to correct it.
    page.provider_button("freshdesk").click()
    freshdesk = page.dialog
    assert isinstance(freshdesk, KeyDialog)
    freshdesk.parameters["domain"].setText("not a domain!")
    freshdesk.secrets["token"].setText("any-key")
    freshdesk.submit()
    qtbot.waitUntil(lambda: freshdesk.error.isVisibleTo(freshdesk), timeout=WAIT_MS)
    assert "must be letters, digits" in freshdesk.error.text()
    assert page.dialog is freshdesk
    assert freshdesk.ok_button.isEnabled()
    freshdesk.reject()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)
    assert page.accounts == {}

    page.provider_button("telegram").click()
    dialog = page.dialog
    assert isinstance(dialog, KeyDialog)
    token = dialog.secrets["token"]
    assert token.echoMode() == QLineEdit.EchoMode.Password
    dialog.submit()  # nothing typed: the dialog asks, the agent is not bothered
    assert dialog.error.text() == "Fill in: Bot token."
    token.setText("123456789:a-bot-token-that-no-one-checked")
    dialog.submit()
    qtbot.waitUntil(lambda: page.dialog is None and len(page.accounts) == 1, timeout=WAIT_MS)
    account_id = only_account(page)
    service, account, status, refreshed, checked, error = row(page, account_id)
    assert (service, account, status, refreshed, checked) == (
        "Telegram",
        "—",
        "Connected",
        "—",
        "not yet",
    )
    # No internet here: kept, and the reason it is not checked is shown.
    assert error.startswith("Not checked yet: Could not reach Telegram")
    assert "Not checked yet" in page.notice.text()
    assert page.table.isVisibleTo(page)
    assert not page.empty_panel.isVisibleTo(page)
    # No OS keyring in this agent: the page says where the key is instead.
    assert page.storage_note.isVisibleTo(page)
    assert "kept in the encrypted database" in page.storage_note.text()
    assert "No OS keyring is usable" in page.storage_note.text()
    assert page.selected_id() == account_id
    # A key is not signed in again.
    assert not page.reconnect_button.isEnabled()

    # Checking fails (offline): said in the error line, the account stays.
    page.check_button.click()
    qtbot.waitUntil(lambda: page.message.isVisibleTo(page), timeout=WAIT_MS)
    assert page.message.text().startswith("Could not reach Telegram to check the account")
    qtbot.waitUntil(page.check_button.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: row(page, account_id)[4] != "not yet", timeout=WAIT_MS)
    assert row(page, account_id)[5].startswith("Could not reach Telegram")

    page.disconnect_account(account_id, confirm=False)
    qtbot.waitUntil(lambda: page.account_item(account_id) is None, timeout=WAIT_MS)
    assert page.notice.text() == "Removed from this device."
    assert page.empty_panel.isVisibleTo(page)
    assert not page.storage_note.isVisibleTo(page)
    # The service agrees: the account is gone there too.
    left: list[list[Account]] = []
    desktop.host.call(list_accounts, left.append)
    qtbot.waitUntil(lambda: left == [[]], timeout=WAIT_MS)


def test_connecting_openid_connect_in_the_browser_shows_it_connected(
    qtbot: QtBot, desktop: DesktopApp, paths: AppPaths, tmp_path: Path
) -> None:
    with running_oidc_provider(tmp_path / "oidc") as provider:
        page = integrations_page(qtbot, desktop)
        browser = Browser()
        page.open_url = browser.open

        page.provider_button("oidc").click()
        dialog = page.dialog
        assert isinstance(dialog, ConnectDialog)
        assert list(dialog.parameters) == ["issuer"]
        assert dialog.client_id.text() == ""  # none configured yet
        assert dialog.client_secret.echoMode() == QLineEdit.EchoMode.Password
        # An issuer that is not https (nor loopback) is refused, and nothing is saved.
        dialog.parameters["issuer"].setText("http://login.example.com")
        dialog.client_id.setText(provider.client_id)
        dialog.submit()
        qtbot.waitUntil(lambda: dialog.error.isVisibleTo(dialog), timeout=WAIT_MS)
        assert "must be an https:// URL" in dialog.error.text()
        assert browser.opened == []
        assert not paths.config_file.exists() or "integrations" not in _config(paths)

        dialog.parameters["issuer"].setText(provider.issuer)
        dialog.submit()
        qtbot.waitUntil(lambda: len(browser.opened) == 1, timeout=WAIT_MS)
        assert browser.opened[0].startswith(provider.authorization_endpoint)
        qtbot.waitUntil(lambda: page.dialog is None, timeout=WAIT_MS)
        # The client id was kept for the next time, in the config file.
        assert _config(paths)["integrations"] == {"oidc": {"client_id": provider.client_id}}
        assert "Sign in to OpenID Connect in your browser" in page.notice.text()
        qtbot.waitUntil(lambda: len(page.accounts) == 1, timeout=WAIT_MS)
        account_id = only_account(page)
        assert status_of(page, account_id) == "Waiting for sign-in"

        # The person signs in; the provider sends the browser to the agent's callback.
        _finish_in_browser(provider.login(browser.opened[0]))
        # Only the agent's event tells the page: it follows at once.
        qtbot.waitUntil(lambda: status_of(page, account_id) == "Connected", timeout=WAIT_MS)
        service, account, _, refreshed, checked, error = row(page, account_id)
        assert (service, account, error) == ("OpenID Connect", "alice", "")
        assert refreshed not in ("never", "—")
        assert checked != "not yet"
        assert page.reconnect_button.isEnabled()

        # The provider withdraws the grant: the check finds out, and it is said plainly.
        provider.revoke_all_grants()
        page.check_button.click()
        qtbot.waitUntil(lambda: status_of(page, account_id) == "Reconnect needed", timeout=WAIT_MS)
        item = page.account_item(account_id)
        # A chip in the failed colour (the status column's delegate paints it).
        assert item is not None and item.data(2, STATUS_ROLE) == "account.reconnect_needed"
        assert isinstance(page.table.itemDelegateForColumn(2), StatusChipDelegate)
        assert page.attention.isVisibleTo(page)
        assert "Reconnect needed: OpenID Connect (alice)" in page.attention.text()
        assert "refused the account's credential" in page.message.text()

        # Reconnect opens a new sign-in; finishing it makes the account work again.
        page.reconnect_button.click()
        qtbot.waitUntil(lambda: len(browser.opened) == 2, timeout=WAIT_MS)
        assert browser.opened[1].startswith(provider.authorization_endpoint)
        _finish_in_browser(provider.login(browser.opened[1]))
        qtbot.waitUntil(lambda: status_of(page, account_id) == "Connected", timeout=WAIT_MS)
        assert not page.attention.isVisibleTo(page)

        page.disconnect_account(account_id, confirm=False)
        qtbot.waitUntil(lambda: page.account_item(account_id) is None, timeout=WAIT_MS)
        assert page.notice.text() == "Revoked at OpenID Connect and removed."


def _finish_in_browser(callback_url: str) -> None:
    """Open the provider's redirect to the agent's loopback callback, as a browser would."""
    assert callback_url.startswith("http://127.0.0.1:"), callback_url
    with httpx.Client(timeout=30) as browser:
        answer = browser.get(callback_url)
    assert answer.status_code == 200, answer.text


def _config(paths: AppPaths) -> dict[str, object]:
    return tomllib.loads(paths.config_file.read_text())


def test_a_dialog_closed_while_the_agent_works_leaves_the_page_working(
    qtbot: QtBot, desktop: DesktopApp
) -> None:
    page = integrations_page(qtbot, desktop)
    page.add_key("telegram")
    dialog = page.dialog
    assert isinstance(dialog, KeyDialog)
    dialog.secrets["token"].setText("123456789:closed-before-the-answer")
    dialog.submit()
    dialog.reject()  # before the agent answers: its answer has no dialog to go to
    assert page.dialog is None
    # The key was kept all the same; the agent's event brings it to the list.
    qtbot.waitUntil(lambda: len(page.accounts) == 1, timeout=WAIT_MS)
    account_id = only_account(page)
    qtbot.waitUntil(lambda: page.account_item(account_id) is not None, timeout=WAIT_MS)
    page.disconnect_account(account_id, confirm=False)
    qtbot.waitUntil(lambda: page.accounts == {}, timeout=WAIT_MS)
    assert not page.message.isVisibleTo(page)
