"""Integrations: the accounts connected to other services, and the catalogue to connect more.

Everything is read from and done by the agent's integration service on the
agent thread (:meth:`AgentHost.call`); the page follows ``integration.changed``
events and reads the accounts again when one arrives, so a sign-in finished
in the browser (completed by the agent's loopback callback, not by the page)
shows here at once.

Signing in opens the system browser with the address the service returns.
Where that goes is :attr:`IntegrationsPage.open_url` (``QDesktopServices.openUrl``
unless given): the one seam through which the page leaves the application.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, QUrl
from PySide6.QtGui import QBrush, QDesktopServices, QFont, QShowEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.actors import Actor
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event, IntegrationChanged
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.column_sizing import fit_columns
from atom_desktop.gui.empty_state import EmptyState
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.integration_dialogs import (
    ClientEntry,
    ConnectDialog,
    KeyDialog,
    ProviderDialog,
    ProviderView,
)
from atom_desktop.gui.relative_time import absolute_time, relative_time
from atom_desktop.gui.status_chip import (
    StatusChipDelegate,
    set_status_cell,
    status_colours,
    status_text,
)
from atom_desktop.gui.style import current_theme
from atom_desktop.integrations.catalogue import GENERIC_OIDC

# Types only: the service loads httpx and authlib on the agent thread.
if TYPE_CHECKING:
    from atom_desktop.integrations.catalogue import Provider
    from atom_desktop.integrations.revocations import Disconnected
    from atom_desktop.integrations.service import Account
    from atom_desktop.runtime import Runtime

#: The account statuses (IntegrationService's) with a chip of their own; the chip's
#: key is the status under ``account.`` (gui/status_chip.py has the words and colours).
ACCOUNT_STATUSES = ("pending", "connected", "reconnect_needed", "error")
#: The accounts table's status column (its cells are chips).
STATUS_COLUMN = 2
#: Each catalogue category's heading (the catalogue's Category values), in the listed order.
#: Marked for translation; shown through :func:`category_title`.
CATEGORY_TITLES = {
    "identity": QT_TRANSLATE_NOOP("IntegrationsPage", "Identity"),
    "projects": QT_TRANSLATE_NOOP("IntegrationsPage", "Projects and knowledge"),
    "messaging": QT_TRANSLATE_NOOP("IntegrationsPage", "Messaging and mail"),
    "files": QT_TRANSLATE_NOOP("IntegrationsPage", "Files"),
    "customers": QT_TRANSLATE_NOOP("IntegrationsPage", "Customers and support"),
    "development": QT_TRANSLATE_NOOP("IntegrationsPage", "Development"),
    "commerce": QT_TRANSLATE_NOOP("IntegrationsPage", "Commerce and finance"),
    "voice": QT_TRANSLATE_NOOP("IntegrationsPage", "Voice"),
}
SHORT_TIME = "%Y-%m-%d %H:%M"
LONG_TIME = "%Y-%m-%d %H:%M:%S"
#: Where an account's secrets are when no OS keyring is usable (Account.token_storage).
IN_DATABASE = "database"
#: Events arriving together cause one read.
REFRESH_DELAY_MS = 100
#: The colours of messages, named by the run status of the same colour.
WARNING_STYLE, ALERT_STYLE, OK_STYLE = "timed_out", "failed", "succeeded"
NOTE_STYLE = "color: palette(placeholder-text);"


def category_title(category: str) -> str:
    """A catalogue category's heading, translated."""
    title = CATEGORY_TITLES.get(category)
    if title is None:
        return category.capitalize()
    return QCoreApplication.translate("IntegrationsPage", str(title))


def account_chip(status: str) -> str:
    """The status chip's key for an account status."""
    return f"account.{status}"


def status_words(status: str) -> str:
    """An account status as a person reads it (its chip's word)."""
    return status_text(account_chip(status))


# -- on the agent thread ------------------------------------------------------------------


@dataclass(frozen=True)
class SignInStarted:
    """A sign-in begun: the pending account and the address to open in a browser."""

    account: Account
    url: str


async def catalogue_views(runtime: Runtime) -> list[ProviderView]:
    """Every provider of the catalogue, with the client id configured for it."""
    import asyncio  # noqa: PLC0415 - the agent thread has it; the first paint need not

    from atom_desktop.integrations.health import needed_values  # noqa: PLC0415

    service = runtime.integrations

    def build() -> list[ProviderView]:
        # Client ids are read from the environment and the config file: a thread's work.
        return [
            ProviderView(
                id=p.id,
                name=p.name,
                category=p.category.value,
                auth=p.auth.value,
                docs=p.docs,
                parameters=p.parameters,
                notes=p.notes,
                is_oauth=p.is_oauth,
                client_id=service.clients.client_id(p.id) if p.is_oauth else None,
                client_secret_required=p.client_secret_required,
                needed=() if p.is_oauth else needed_values(p),
                examples=_examples(p),
            )
            for p in service.catalogue
        ]

    return await asyncio.to_thread(build)


def _examples(provider: Provider) -> dict[str, str]:
    """For each parameter, the start of a URL of the record up to where it goes."""
    urls = [
        provider.discovery,
        provider.authorize_url,
        provider.whoami.url if provider.whoami else None,
        provider.token_url,
        provider.docs,
    ]
    found: dict[str, str] = {}
    for name in provider.parameters:
        mark = "{" + name + "}"
        for url in urls:
            if url and mark in url:
                end = url.find("/", url.index(mark) + len(mark))
                found[name] = url if end == -1 else url[:end]
                break
    return found


async def list_accounts(runtime: Runtime) -> list[Account]:
    """Every account, oldest first (the service keeps them in memory)."""
    return runtime.integrations.accounts()


async def start_sign_in(
    runtime: Runtime,
    provider_id: str,
    parameters: Mapping[str, str],
    client: ClientEntry | None,
) -> SignInStarted:
    """Keep the app's client if one was given, then start the browser sign-in.

    The generic OpenID Connect provider may have a client configured for
    another issuer: a different client id given here is then used for this
    account only (its secret kept with the account's tokens), not saved over
    the configured one.
    """
    import asyncio  # noqa: PLC0415

    from atom_desktop.integrations.errors import IntegrationError  # noqa: PLC0415

    service = runtime.integrations
    try:
        # Checked before the client is saved: a mistyped issuer saves nothing.
        service.catalogue.get(provider_id).fill(parameters)
    except ValueError as exc:
        raise IntegrationError(f"{exc}.") from None
    overrides: dict[str, str | None] = {}
    if client is not None:
        configured = await asyncio.to_thread(service.clients.client_id, provider_id)
        if provider_id == GENERIC_OIDC and configured and configured != client.client_id:
            overrides = {"client_id": client.client_id, "client_secret": client.client_secret}
        elif configured != client.client_id or client.client_secret:
            await asyncio.to_thread(
                service.clients.save, provider_id, client.client_id, client.client_secret
            )
            await _audit(runtime, "integration.client", provider_id)
    account, url = await service.async_connect(
        provider_id, parameters=dict(parameters), **overrides
    )
    await _audit(runtime, "integration.connect", account.id)
    return SignInStarted(account, url)


async def add_integration_key(
    runtime: Runtime, provider_id: str, values: Mapping[str, str], parameters: Mapping[str, str]
) -> Account:
    """Keep a service's own key, checked with the service first where it can be."""
    account = await runtime.integrations.async_add_key(
        provider_id, dict(values), parameters=dict(parameters)
    )
    await _audit(runtime, "integration.add_key", account.id)
    return account


async def check_integration(runtime: Runtime, account_id: str) -> Account:
    """Send the account's "who am I" request; IntegrationError says why it failed."""
    return await runtime.integrations.async_check(account_id)


async def reconnect_integration(runtime: Runtime, account_id: str) -> SignInStarted:
    """A new sign-in for the account: the address to open."""
    url = await runtime.integrations.async_reconnect(account_id)
    await _audit(runtime, "integration.reconnect", account_id)
    return SignInStarted(runtime.integrations.account(account_id), url)


async def disconnect_integration(runtime: Runtime, account_id: str) -> Disconnected:
    """Revoke at the provider (or later, offline) and delete the account here."""
    done = await runtime.integrations.async_disconnect(account_id)
    await _audit(runtime, "integration.disconnect", account_id)
    return done


async def _audit(runtime: Runtime, action: str, target: str) -> None:
    import asyncio  # noqa: PLC0415

    await asyncio.to_thread(
        runtime.audit.record,
        actor=Actor.WINDOW,
        action=action,
        target=target,
        status=200,
        result="ok",
    )


# -- the page -------------------------------------------------------------------------------


class IntegrationsPage(QWidget):
    """Connected accounts (check, reconnect, disconnect) over the catalogue (connect, add key)."""

    def __init__(
        self,
        host: AgentHost,
        parent: QWidget | None = None,
        *,
        open_url: Callable[[QUrl], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        #: Opens a sign-in or documentation address (the system browser by default).
        self.open_url: Callable[[QUrl], object] = open_url or QDesktopServices.openUrl
        self.accounts: dict[str, Account] = {}
        self.providers: dict[str, ProviderView] = {}
        #: The dialog open now (connect or add key), if any.
        self.dialog: ProviderDialog | None = None
        self.loaded = False  # the accounts have been read at least once
        self._loading = False
        self._again = False
        self._busy = False
        self._pending_select: str | None = None

        self.message = ErrorLabel()
        self.message.setAccessibleName(self.tr("Integrations message"))
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName(self.tr("Integrations notice"))
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.hide()

        # Connected accounts
        self.attention = QLabel()
        self.attention.setWordWrap(True)
        self.attention.setStyleSheet(self._css(ALERT_STYLE) + " font-weight: bold;")
        self.attention.setAccessibleName(self.tr("Accounts that need attention"))
        self.attention.hide()
        self.storage_note = QLabel()
        self.storage_note.setWordWrap(True)
        self.storage_note.setStyleSheet(self._css(WARNING_STYLE))
        self.storage_note.setAccessibleName(self.tr("Where tokens are kept"))
        self.storage_note.hide()
        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setHeaderLabels(
            [
                self.tr("Service"),
                self.tr("Account"),
                self.tr("Status"),
                self.tr("Last refresh"),
                self.tr("Last check"),
                self.tr("Last error"),
            ]
        )
        self.table.setAccessibleName(self.tr("Connected accounts"))
        self.table.setItemDelegateForColumn(STATUS_COLUMN, StatusChipDelegate(self.table))
        # Each column as wide as its content; the last error takes what is left.
        fit_columns(self.table)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAccessibleName(self.tr("The selected account's last error"))
        self.details.setStyleSheet(self._css(ALERT_STYLE))
        self.details.hide()
        self.check_button = QPushButton(self.tr("Check"))
        self.check_button.setAccessibleName(self.tr("Check the selected account works"))
        self.check_button.setToolTip(
            self.tr("Ask the service who the account is, to prove access works")
        )
        self.reconnect_button = QPushButton(self.tr("Reconnect…"))
        self.reconnect_button.setAccessibleName(self.tr("Sign in again to the selected account"))
        self.disconnect_button = QPushButton(self.tr("Disconnect…"))
        self.disconnect_button.setAccessibleName(self.tr("Disconnect the selected account"))
        self.empty = EmptyState(
            self.tr("No accounts yet"),
            self.tr(
                "The services you connect are listed here, with their status and when their "
                "tokens were last refreshed and checked. Pick one in the catalogue below: "
                "Connect signs in with your browser, Add key keeps a key you paste."
            ),
            action=self.tr("Browse the catalogue"),
        )
        assert self.empty.button is not None  # made with an action
        self.browse_button = self.empty.button
        self.browse_button.setAccessibleName(self.tr("Browse the catalogue of services"))
        self.empty_panel = self.empty
        account_buttons = QHBoxLayout()
        account_buttons.addWidget(self.check_button)
        account_buttons.addWidget(self.reconnect_button)
        account_buttons.addStretch(1)
        account_buttons.addWidget(self.disconnect_button)
        self.account_buttons = QWidget()
        self.account_buttons.setLayout(account_buttons)
        account_buttons.setContentsMargins(0, 0, 0, 0)
        accounts_box = QGroupBox(self.tr("Connected accounts"))
        accounts_layout = QVBoxLayout(accounts_box)
        accounts_layout.addWidget(self.attention)
        accounts_layout.addWidget(self.storage_note)
        accounts_layout.addWidget(self.table, 1)
        accounts_layout.addWidget(self.empty_panel, 1)
        accounts_layout.addWidget(self.details)
        accounts_layout.addWidget(self.account_buttons)

        # Catalogue
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(
            self.tr("Filter by name, id or category (e.g. slack, files)")
        )
        self.filter.setAccessibleName(self.tr("Filter the catalogue"))
        self.filter.setClearButtonEnabled(True)
        self.catalogue = QTreeWidget()
        self.catalogue.setRootIsDecorated(False)
        self.catalogue.setItemsExpandable(False)
        self.catalogue.setHeaderLabels([self.tr("Service"), self.tr("How it connects"), "", ""])
        self.catalogue.setAccessibleName(self.tr("Catalogue of services"))
        catalogue_header = self.catalogue.header()
        catalogue_header.setStretchLastSection(False)
        catalogue_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (2, 3):
            catalogue_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.catalogue.setColumnWidth(0, self.fontMetrics().averageCharWidth() * 27)
        self.no_match = QLabel()
        self.no_match.setStyleSheet(NOTE_STYLE)
        self.no_match.hide()
        catalogue_box = QGroupBox(self.tr("Catalogue"))
        catalogue_layout = QVBoxLayout(catalogue_box)
        catalogue_layout.addWidget(self.filter)
        catalogue_layout.addWidget(self.no_match)
        catalogue_layout.addWidget(self.catalogue, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(accounts_box)
        split.addWidget(catalogue_box)
        split.setStretchFactor(1, 1)
        split.setSizes([200, 480])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.check_button.clicked.connect(lambda: self._on_selected(self.check))
        self.reconnect_button.clicked.connect(lambda: self._on_selected(self.reconnect))
        self.disconnect_button.clicked.connect(lambda: self._on_selected(self.disconnect_account))
        self.browse_button.clicked.connect(self.browse_catalogue)
        self.table.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.filter.textChanged.connect(self.apply_filter)
        host.agent_event.connect(self._on_event)
        host.when_started(self._on_agent_started)
        self._show_accounts([])

    # -- reading ----------------------------------------------------------------------------

    def _on_agent_started(self) -> None:
        self.load_catalogue()
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def load_catalogue(self) -> None:
        """Read the catalogue (and which providers have a client id) again."""
        self._host.call(catalogue_views, self._show_catalogue, self._catalogue_failed)

    def refresh(self) -> None:
        """Read the accounts again (once at a time; again after if asked meanwhile)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._host.call(list_accounts, self._accounts_read, self._read_failed)

    def _on_event(self, event: Event) -> None:
        if isinstance(event.payload, IntegrationChanged):
            self._refresh_timer.start()

    def _read_done(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.refresh()

    def _read_failed(self, error: AtomError) -> None:
        self._read_done()
        self.message.show_error(str(error))

    def _accounts_read(self, accounts: list[Account]) -> None:
        self._read_done()
        self.loaded = True
        self._show_accounts(accounts)

    # -- the accounts -------------------------------------------------------------------------

    def _show_accounts(self, accounts: list[Account]) -> None:
        selected = self.selected_id()
        if self._pending_select is not None and any(a.id == self._pending_select for a in accounts):
            selected, self._pending_select = self._pending_select, None
        self.accounts = {a.id: a for a in accounts}
        self.table.blockSignals(True)
        self.table.clear()
        for account in accounts:
            item = QTreeWidgetItem(self._columns(account))
            item.setData(0, Qt.ItemDataRole.UserRole, account.id)
            set_status_cell(item, STATUS_COLUMN, account_chip(account.status))
            self._decorate(item, account)
            self.table.addTopLevelItem(item)
            if account.id == selected:
                self.table.setCurrentItem(item)
        first = self.table.topLevelItem(0)
        if self.table.currentItem() is None and first is not None:
            self.table.setCurrentItem(first)
        self.table.blockSignals(False)
        self.table.setVisible(bool(accounts))
        self.account_buttons.setVisible(bool(accounts))
        self.empty_panel.setVisible(not accounts)
        self._show_attention(accounts)
        self._update_buttons()

    def _columns(self, account: Account) -> list[str]:
        provider = self.providers.get(account.provider)
        by_key = provider is not None and not provider.is_oauth
        if account.refreshed_at is not None:
            refreshed = relative_time(account.refreshed_at)
        else:
            refreshed = "—" if by_key else self.tr("never")
        return [
            account.provider_name,
            account.account or "—",
            status_words(account.status),
            refreshed,
            relative_time(account.checked_at) or self.tr("not yet"),
            account.last_error or "",
        ]

    def _decorate(self, item: QTreeWidgetItem, account: Account) -> None:
        item.setToolTip(3, absolute_time(account.refreshed_at))
        item.setToolTip(4, absolute_time(account.checked_at))
        if account.last_error:
            item.setForeground(5, self._brush(ALERT_STYLE))
            item.setToolTip(5, account.last_error)
        details = [
            self.tr("%1 (id %2)").replace("%1", account.provider_name).replace("%2", account.id)
        ]
        details += [f"{name}: {value}" for name, value in account.parameters.items()]
        if account.scopes:
            details.append(self.tr("Scopes: %1").replace("%1", " ".join(account.scopes)))
        if account.expires_at is not None:
            details.append(
                self.tr("Access token expires %1").replace(
                    "%1", _local(account.expires_at, LONG_TIME)
                )
            )
        details.append(
            self.tr("Tokens kept in the encrypted database (no OS keyring is usable)")
            if account.token_storage == IN_DATABASE
            else self.tr("Tokens kept in the OS keyring")
        )
        item.setToolTip(0, "\n".join(details))
        item.setToolTip(2, _status_help(account.status))
        for column in (3, 4):
            when = account.refreshed_at if column == 3 else account.checked_at
            if when is not None:
                item.setToolTip(column, _local(when, LONG_TIME))

    def _show_attention(self, accounts: list[Account]) -> None:
        stale = [a for a in accounts if a.status == "reconnect_needed"]
        if stale:
            names = ", ".join(_account_name(a) for a in stale)
            self.attention.setText(
                self.tr(
                    "Reconnect needed: {0} no longer accepts the agent's access. Select it and "
                    "press Reconnect to sign in again."
                ).format(names)
            )
        self.attention.setVisible(bool(stale))
        in_database = [a for a in accounts if a.token_storage == IN_DATABASE]
        if in_database:
            names = ", ".join(_account_name(a) for a in in_database)
            self.storage_note.setText(
                self.tr(
                    "No OS keyring is usable on this computer, so the tokens and keys of {0} are "
                    "kept in the encrypted database instead."
                ).format(names)
            )
        self.storage_note.setVisible(bool(in_database))

    def selected_id(self) -> str | None:
        """The id of the selected account, if any."""
        item = self.table.currentItem()
        value = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return str(value) if value is not None else None

    def select(self, account_id: str) -> None:
        """Select an account in the list."""
        item = self.account_item(account_id)
        if item is not None:
            self.table.setCurrentItem(item)

    def account_item(self, account_id: str) -> QTreeWidgetItem | None:
        """The list's row of an account (None when it is not listed)."""
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == account_id:
                return item
        return None

    def _update_buttons(self) -> None:
        account = self.accounts.get(self.selected_id() or "")
        # The list cuts a long error short: the selected account's is here in full.
        if account is not None and account.last_error:
            self.details.setText(
                self.tr("{0}: {1}").format(_account_name(account), account.last_error)
            )
        self.details.setVisible(account is not None and bool(account.last_error))
        idle = account is not None and not self._busy
        self.check_button.setEnabled(
            account is not None and not self._busy and account.status != "pending"
        )
        provider = self.providers.get(account.provider) if account is not None else None
        oauth = provider is not None and provider.is_oauth
        self.reconnect_button.setEnabled(idle and oauth)
        self.reconnect_button.setToolTip(
            self.tr("Sign in again in the browser; the tokens are replaced when it completes")
            if oauth or provider is None
            else self.tr("A key is not signed in again: disconnect and add a new key")
        )
        self.disconnect_button.setEnabled(idle)

    # -- account actions --------------------------------------------------------------------

    def _on_selected(self, action: Callable[[str], None]) -> None:
        account_id = self.selected_id()
        if account_id is not None:
            action(account_id)

    def check(self, account_id: str) -> None:
        """Ask the service whether the account works; say how it went."""
        self._start(self.tr("Checking %1…").replace("%1", self._name(account_id)))
        self._host.call(lambda rt: check_integration(rt, account_id), self._checked, self._failed)

    def reconnect(self, account_id: str) -> None:
        """Sign in again to the account in the browser."""
        name = self._name(account_id)
        self._start(self.tr("Starting a new sign-in to %1…").replace("%1", name))
        self._host.call(
            lambda rt: reconnect_integration(rt, account_id), self._open_sign_in, self._failed
        )

    def disconnect_account(self, account_id: str, *, confirm: bool = True) -> None:
        """Revoke the account's access at its service and remove it here."""
        name = self._name(account_id)
        if confirm:
            answer = QMessageBox.question(
                self,
                self.tr("Disconnect"),
                self.tr(
                    "Disconnect {0}? The agent asks the service to revoke its access and deletes "
                    "the tokens kept here; automations that use it stop working."
                ).format(name),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._start(self.tr("Disconnecting %1…").replace("%1", name))
        self._host.call(
            lambda rt: disconnect_integration(rt, account_id), self._disconnected, self._failed
        )

    def _start(self, text: str) -> None:
        self._busy = True
        self._update_buttons()
        self.message.hide()
        self._notify(text, "")

    def _end(self) -> None:
        self._busy = False
        self._update_buttons()

    def _checked(self, account: Account) -> None:
        self._end()
        self._notify(
            self._works(self.tr("%1 works."), self.tr("%1 works as %2."), account), OK_STYLE
        )
        self.refresh()

    def _disconnected(self, done: Disconnected) -> None:
        self._end()
        self._notify(done.message, WARNING_STYLE if done.pending else OK_STYLE)
        self.refresh()

    def _failed(self, error: AtomError) -> None:
        self._end()
        self.notice.hide()
        self.message.show_error(str(error))
        self.refresh()

    def _open_sign_in(self, started: SignInStarted) -> None:
        self._end()
        name, url = started.account.provider_name, started.url
        if self.open_url(QUrl(url)) is False:
            self._notify(
                self.tr("No browser could be opened. To sign in to %1, open this address: %2")
                .replace("%1", name)
                .replace("%2", url),
                WARNING_STYLE,
            )
        else:
            self._notify(
                self.tr(
                    "Sign in to %1 in your browser; this page follows when you are done."
                ).replace("%1", name),
                OK_STYLE,
            )
        self.refresh()

    def _brush(self, tone: str) -> QBrush:
        """The text colour of the chips of status ``tone``, in this theme."""
        return QBrush(status_colours(tone, dark=current_theme(self).dark)[1])

    def _css(self, tone: str) -> str:
        return f"color: {self._brush(tone).color().name()};"

    def _notify(self, text: str, style: str) -> None:
        self.notice.setStyleSheet(self._css(style))
        self.notice.setText(text)
        self.notice.show()

    @staticmethod
    def _works(alone: str, as_who: str, account: Account) -> str:
        """``alone`` (%1: the service) or, with a known account, ``as_who`` (%2: it)."""
        if account.account:
            return as_who.replace("%1", account.provider_name).replace("%2", account.account)
        return alone.replace("%1", account.provider_name)

    def _name(self, account_id: str) -> str:
        account = self.accounts.get(account_id)
        return _account_name(account) if account is not None else account_id

    # -- the catalogue ----------------------------------------------------------------------

    def _show_catalogue(self, providers: list[ProviderView]) -> None:
        self.providers = {p.id: p for p in providers}
        self.catalogue.clear()
        order = list(CATEGORY_TITLES)
        categories = sorted(
            {p.category for p in providers},
            key=lambda c: (order.index(c) if c in order else len(order), c),
        )
        bold = QFont(self.catalogue.font())
        bold.setBold(True)
        for category in categories:
            group = QTreeWidgetItem([category_title(category)])
            group.setData(0, Qt.ItemDataRole.UserRole, f"category:{category}")
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.catalogue.addTopLevelItem(group)
            group.setFirstColumnSpanned(True)
            members = sorted(
                (p for p in providers if p.category == category), key=lambda p: p.name.casefold()
            )
            for provider in members:
                item = QTreeWidgetItem([provider.name, provider.connects_by, "", ""])
                item.setData(0, Qt.ItemDataRole.UserRole, provider.id)
                item.setToolTip(0, self.tr("{0} ({1})").format(provider.name, provider.id))
                item.setToolTip(1, provider.notes or provider.connects_by)
                group.addChild(item)
                self.catalogue.setItemWidget(item, 2, self._docs_link(provider))
                self.catalogue.setItemWidget(item, 3, self._provider_button(provider))
        self.catalogue.expandAll()
        self.apply_filter()
        self._show_accounts(list(self.accounts.values()))

    def _catalogue_failed(self, error: AtomError) -> None:
        self.message.show_error(str(error))

    def _docs_link(self, provider: ProviderView) -> QLabel:
        # The theme's accent, named in the link: rich text otherwise keeps the link
        # colour of the palette it was first laid out with (dark blue on dark).
        accent = current_theme(self).colours.accent
        link = QLabel(
            self.tr('<a href="{0}" style="color: {1}">Docs</a>').format(
                html.escape(provider.docs), accent
            )
        )
        link.setTextFormat(Qt.TextFormat.RichText)
        link.setAccessibleName(self.tr("Documentation of {0}").format(provider.name))
        link.setToolTip(provider.docs)
        link.linkActivated.connect(lambda url: self.open_url(QUrl(url)))
        return link

    def _provider_button(self, provider: ProviderView) -> QPushButton:
        button = QPushButton(self.tr("Connect…") if provider.is_oauth else self.tr("Add key…"))
        button.setObjectName(f"provider-{provider.id}")
        button.setAccessibleName(
            self.tr("Connect {0}").format(provider.name)
            if provider.is_oauth
            else self.tr("Add a key for {0}").format(provider.name)
        )
        if provider.is_oauth:
            button.clicked.connect(lambda: self.connect_provider(provider.id))
        else:
            button.clicked.connect(lambda: self.add_key(provider.id))
        return button

    def provider_button(self, provider_id: str) -> QPushButton:
        """The Connect or Add key button of a provider in the catalogue."""
        button = self.catalogue.findChild(QPushButton, f"provider-{provider_id}")
        if button is None:
            raise KeyError(provider_id)
        return button

    def apply_filter(self) -> None:
        """Show the providers whose name, id or category holds the filter's text."""
        words = self.filter.text().strip().casefold()
        shown = 0
        for index in range(self.catalogue.topLevelItemCount()):
            group = self.catalogue.topLevelItem(index)
            if group is None:
                continue
            title = group.text(0).casefold()
            category = str(group.data(0, Qt.ItemDataRole.UserRole)).removeprefix("category:")
            whole_group = bool(words) and (words in title or words in category)
            visible = 0
            for child_index in range(group.childCount()):
                child = group.child(child_index)
                if child is None:
                    continue
                provider = self.providers.get(str(child.data(0, Qt.ItemDataRole.UserRole)))
                match = (
                    not words
                    or whole_group
                    or (
                        provider is not None
                        and (words in provider.name.casefold() or words in provider.id)
                    )
                )
                child.setHidden(not match)
                visible += match
            group.setHidden(visible == 0)
            shown += visible
        if shown == 0 and self.providers:
            self.no_match.setText(
                self.tr("No service matches “{0}”.").format(self.filter.text().strip())
            )
        self.no_match.setVisible(shown == 0 and bool(self.providers))

    def listed_providers(self) -> list[str]:
        """The ids of the providers the catalogue shows now (after the filter), in order."""
        found = []
        for index in range(self.catalogue.topLevelItemCount()):
            group = self.catalogue.topLevelItem(index)
            if group is None or group.isHidden():
                continue
            for child_index in range(group.childCount()):
                child = group.child(child_index)
                if child is not None and not child.isHidden():
                    found.append(str(child.data(0, Qt.ItemDataRole.UserRole)))
        return found

    def browse_catalogue(self) -> None:
        """Put the cursor in the catalogue's filter."""
        self.filter.setFocus(Qt.FocusReason.OtherFocusReason)
        self.filter.selectAll()

    # -- connecting ---------------------------------------------------------------------------
    #
    # Every answer from the agent goes to a bound method of the page or of the
    # dialog: the host drops answers whose receiver was deleted meanwhile (a
    # dialog cancelled while its job ran), which a lambda would not let it see.

    def connect_provider(self, provider_id: str) -> None:
        """Sign in to an OAuth provider: ask for what it needs first, if anything."""
        provider = self.providers[provider_id]
        ask_client = provider.id == GENERIC_OIDC or provider.client_id is None
        if not provider.parameters and not ask_client:
            self.message.hide()
            self._notify(self.tr("Starting the sign-in to %1…").replace("%1", provider.name), "")
            self._host.call(
                lambda rt: start_sign_in(rt, provider.id, {}, None),
                self._sign_in_started,
                self._failed,
            )
            return
        dialog = ConnectDialog(provider, self.open_url, ask_client=ask_client, parent=self)

        def submitted() -> None:
            parameters, client = dialog.parameter_values(), dialog.client()
            self._host.call(
                lambda rt: start_sign_in(rt, provider.id, parameters, client),
                dialog.succeed,
                dialog.fail_with,
            )

        dialog.succeeded.connect(self._dialog_sign_in_started)
        self._open_dialog(dialog, submitted)

    def add_key(self, provider_id: str) -> None:
        """Add a service that connects with its own key: ask for the key."""
        provider = self.providers[provider_id]
        dialog = KeyDialog(provider, self.open_url, parent=self)

        def submitted() -> None:
            values, parameters = dialog.secret_values(), dialog.parameter_values()
            self._host.call(
                lambda rt: add_integration_key(rt, provider.id, values, parameters),
                dialog.succeed,
                dialog.fail_with,
            )

        dialog.succeeded.connect(self._key_added)
        self._open_dialog(dialog, submitted)

    def _open_dialog(self, dialog: ProviderDialog, submitted: Callable[[], None]) -> None:
        if self.dialog is not None:
            self.dialog.reject()
        self.dialog = dialog
        dialog.submitted.connect(submitted)
        dialog.finished.connect(self._dialog_closed)
        dialog.open()

    def _dialog_closed(self) -> None:
        dialog = self.sender()
        if isinstance(dialog, ProviderDialog):
            if self.dialog is dialog:
                self.dialog = None
            dialog.deleteLater()

    def _dialog_sign_in_started(self, started: SignInStarted) -> None:
        provider = self.providers.get(started.account.provider)
        if provider is None or provider.client_id is None:
            self.load_catalogue()  # its client id was saved: Connect asks for it no more
        self._sign_in_started(started)

    def _sign_in_started(self, started: SignInStarted) -> None:
        self.select_when_listed(started.account.id)
        self._open_sign_in(started)

    def _key_added(self, account: Account) -> None:
        self.message.hide()
        if account.last_error:
            self._notify(
                self.tr("%1 was added; %2")
                .replace("%1", account.provider_name)
                .replace("%2", account.last_error),
                WARNING_STYLE,
            )
        else:
            works = self._works(
                self.tr("%1 was added and works."),
                self.tr("%1 was added and works as %2."),
                account,
            )
            self._notify(works, OK_STYLE)
        self.select_when_listed(account.id)
        self.refresh()

    def select_when_listed(self, account_id: str) -> None:
        """Select the account now, or once the next read lists it."""
        if self.account_item(account_id) is not None:
            self.select(account_id)
            return
        self._pending_select = account_id  # the read that lists it selects it
        self.refresh()


_STATUS_HELP = {
    "pending": QT_TRANSLATE_NOOP(
        "IntegrationsPage", "The sign-in was started and is not finished yet"
    ),
    "connected": QT_TRANSLATE_NOOP("IntegrationsPage", "The agent can act for this account"),
    "reconnect_needed": QT_TRANSLATE_NOOP(
        "IntegrationsPage", "The service no longer accepts the agent's access: press Reconnect"
    ),
    "error": QT_TRANSLATE_NOOP("IntegrationsPage", "The last attempt failed; see the last error"),
}


def _status_help(status: str) -> str:
    help_text = _STATUS_HELP.get(status)
    if help_text is None:
        return status
    return QCoreApplication.translate("IntegrationsPage", str(help_text))


def _account_name(account: Account) -> str:
    name = account.provider_name
    return f"{name} ({account.account})" if account.account else name


def _local(when: datetime | None, form: str = SHORT_TIME) -> str:
    if when is None:
        return ""
    return when.astimezone().strftime(form)
