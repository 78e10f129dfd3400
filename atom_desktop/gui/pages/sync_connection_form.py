"""The Sync page's server form: test a server, connect to it, disconnect.

The address goes to the config file and the password to the OS keyring
(:class:`~atom_desktop.sync.connection_settings.SyncConnectionStore`), as
``atom-desktop sync connect`` keeps them; the running agent then syncs with
the new server at once (:meth:`Runtime.async_reconnect_sync`). The password
is read from its field only to be handed to the agent: it is never shown,
logged, or written to the config file. Testing and connecting talk to the
server, so they run on the agent thread, never on the window's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from atom_desktop.core.actors import Actor
from atom_desktop.core.errors import AtomError
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.status_chip import status_colours
from atom_desktop.gui.style import current_theme

# Types only: sync loads psycopg, which the window's first paint need not wait for.
if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime
    from atom_desktop.sync.connection_check import ConnectionReport

#: Each kind of failure as the form names it (ServerProblem's values), marked for translation.
PROBLEM_NAMES = {
    "dns": QT_TRANSLATE_NOOP("ConnectionForm", "DNS"),
    "refused": QT_TRANSLATE_NOOP("ConnectionForm", "Refused"),
    "timeout": QT_TRANSLATE_NOOP("ConnectionForm", "Timeout"),
    "disconnected": QT_TRANSLATE_NOOP("ConnectionForm", "Connection lost"),
    "tls": QT_TRANSLATE_NOOP("ConnectionForm", "TLS"),
    "authentication": QT_TRANSLATE_NOOP("ConnectionForm", "Authentication"),
    "database": QT_TRANSLATE_NOOP("ConnectionForm", "Database"),
    "permission": QT_TRANSLATE_NOOP("ConnectionForm", "Permission"),
    "schema_missing": QT_TRANSLATE_NOOP("ConnectionForm", "Schema missing"),
    "schema_too_old": QT_TRANSLATE_NOOP("ConnectionForm", "Schema too old"),
    "schema_too_new": QT_TRANSLATE_NOOP("ConnectionForm", "Schema too new"),
    "invalid": QT_TRANSLATE_NOOP("ConnectionForm", "Invalid address"),
}
#: The colours of a test's result, named by the run status of the same colour
#: (the status chips' palette, light and dark).
OK_STYLE, FAILED_STYLE = "succeeded", "failed"
NOTE_STYLE = "color: palette(placeholder-text);"


@dataclass(frozen=True)
class ConnectionSettings:
    """Where the sync server is set now; never its password."""

    #: The configured address (without a password when it was saved here).
    url: str | None
    #: ``environment`` (ATOM_SYNC_URL decides) or ``config file``; None when none is set.
    source: str | None
    #: Whether the keyring keeps a password for it.
    password_saved: bool


def describe_failure(error: AtomError) -> str:
    """A failed test for a person: the kind of failure, what happened, what to do."""
    problem = str(getattr(error, "problem", ""))
    name = PROBLEM_NAMES.get(problem)
    if name is None:
        text = error.message
    else:
        kind = QCoreApplication.translate("ConnectionForm", str(name))
        text = f"{kind}: {error.message}"
    return text if error.hint is None else f"{text}\n{error.hint}"


# -- on the agent thread ------------------------------------------------------------------


async def connection_settings(runtime: Runtime) -> ConnectionSettings:
    """The configured server and whether a password is kept for it."""
    import asyncio  # noqa: PLC0415 - the agent thread has it; the first paint need not

    from atom_desktop.sync.connection_settings import split_password  # noqa: PLC0415

    store = runtime.sync_connection
    configured = await asyncio.to_thread(store.configured)
    if configured is None:
        return ConnectionSettings(None, None, password_saved=False)
    try:
        # A password written into the address by hand is never shown.
        url = split_password(configured.url)[0]
    except AtomError:
        url = ""  # unreadable: the sync status says why
    saved = await asyncio.to_thread(store.stored_password)
    return ConnectionSettings(url, configured.source, password_saved=bool(saved))


def _target(runtime: Runtime, url: str, password: str) -> tuple[str, str | None, str]:
    """The address without a password, the password to use, and both as one connection string.

    An empty password field keeps the saved password of the configured
    address (a person should not have to type it again to test or reconnect).
    """
    from atom_desktop.sync.connection_settings import (  # noqa: PLC0415 - loads psycopg
        split_password,
        with_password,
    )

    bare, in_url = split_password(url)
    secret = password or in_url
    if secret:
        runtime.redactor.add(secret)
    else:
        store = runtime.sync_connection
        configured = store.configured()
        if configured is not None and split_password(configured.url)[0] == bare:
            secret = store.stored_password()
    return bare, secret, with_password(bare, secret)


async def test_connection(runtime: Runtime, url: str, password: str) -> ConnectionReport:
    """Log in to the server as sync would; SyncError says what failed."""
    import asyncio  # noqa: PLC0415

    from atom_desktop.sync.connection_check import check_connection  # noqa: PLC0415

    _, _, target = await asyncio.to_thread(_target, runtime, url, password)
    return await asyncio.to_thread(check_connection, target, runtime.redactor)


@dataclass(frozen=True)
class Connected:
    """A connection made: what the test found, and the server the agent syncs with now."""

    report: ConnectionReport
    server: str | None


async def connect(runtime: Runtime, url: str, password: str) -> Connected:
    """Test the server, keep its address and password, and sync with it from now on.

    Nothing is saved when the test fails.
    """
    import asyncio  # noqa: PLC0415

    from atom_desktop.sync.connection_check import check_connection  # noqa: PLC0415

    store = runtime.sync_connection
    configured = await asyncio.to_thread(store.configured)
    if configured is not None and configured.source == "environment":
        raise AtomError(
            "ATOM_SYNC_URL is set in the environment and decides the sync server; "
            "unset it to choose the server here."
        )
    bare, secret, target = await asyncio.to_thread(_target, runtime, url, password)
    report = await asyncio.to_thread(check_connection, target, runtime.redactor)
    await asyncio.to_thread(store.save, bare, secret)
    await _audit(runtime, "sync.connect", report.server)
    return Connected(report, await runtime.async_reconnect_sync())


async def disconnect(runtime: Runtime) -> str | None:
    """Forget the server and its password; returns the server still in use (the environment's)."""
    import asyncio  # noqa: PLC0415

    await asyncio.to_thread(runtime.sync_connection.forget)
    await _audit(runtime, "sync.disconnect", None)
    return await runtime.async_reconnect_sync()


async def _audit(runtime: Runtime, action: str, target: str | None) -> None:
    import asyncio  # noqa: PLC0415

    await asyncio.to_thread(
        runtime.audit.record,
        actor=Actor.WINDOW,
        action=action,
        target=target,
        status=200,
        result="ok",
    )


# -- the form -------------------------------------------------------------------------------


class ConnectionForm(QGroupBox):
    """Address and password of the sync server, with Test, Connect and Disconnect."""

    #: The agent now syncs with another server, or with none.
    changed = Signal()

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(QCoreApplication.translate("ConnectionForm", "Server"), parent)
        self._host = host
        self._settings: ConnectionSettings | None = None
        self._busy = False
        self.url = QLineEdit()
        self.url.setPlaceholderText(self.tr("postgresql://ROLE@HOST:5432/DATABASE"))
        self.url.setAccessibleName(self.tr("Sync server address"))
        self.url.setClearButtonEnabled(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName(self.tr("Sync server password"))
        self.test_button = QPushButton(self.tr("Test connection"))
        self.test_button.setAccessibleName(self.tr("Test the sync server"))
        self.connect_button = QPushButton(self.tr("Connect"))
        self.connect_button.setAccessibleName(self.tr("Connect to the sync server"))
        self.disconnect_button = QPushButton(self.tr("Disconnect"))
        self.disconnect_button.setAccessibleName(self.tr("Stop syncing and forget the server"))
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAccessibleName(self.tr("Connection test result"))
        self.result.hide()
        self.note = QLabel(
            self.tr("The address is kept in the config file, the password in the OS keyring only.")
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet(NOTE_STYLE)

        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        buttons.addStretch(1)
        form = QFormLayout(self)
        form.addRow(self.tr("Address:"), self.url)
        form.addRow(self.tr("Password:"), self.password)
        form.addRow("", buttons)
        form.addRow(self.result)
        form.addRow(self.note)

        self.test_button.clicked.connect(self.test)
        self.connect_button.clicked.connect(self.connect_server)
        self.disconnect_button.clicked.connect(self.disconnect_server)
        self.url.returnPressed.connect(self.test)
        self.password.returnPressed.connect(self.test)
        self.url.textChanged.connect(self._update_buttons)
        self._update_buttons()

    # -- what is configured ---------------------------------------------------------------

    @property
    def from_environment(self) -> bool:
        """Whether ATOM_SYNC_URL decides the server (the form cannot change it)."""
        return self._settings is not None and self._settings.source == "environment"

    def load(self) -> None:
        """Read the configured server from the agent's profile."""
        self._host.call(connection_settings, self.show_settings, self._failed)

    def show_settings(self, settings: ConnectionSettings) -> None:
        """Fill the form with the configured server (its password stays where it is)."""
        self._settings = settings
        if settings.url is not None and (not self.url.text() or self.from_environment):
            self.url.setText(settings.url)
        self.password.setPlaceholderText(
            self.tr("kept in the keyring: leave empty to keep it")
            if settings.password_saved
            else self.tr("none kept: PGPASSWORD or ~/.pgpass may give it")
            if settings.url
            else ""
        )
        if self.from_environment:
            self.note.setText(
                self.tr(
                    "ATOM_SYNC_URL is set in the environment: it decides the sync server, and "
                    "this form cannot change it. Unset it and restart to choose the server here."
                )
            )
        else:
            self.note.setText(
                self.tr(
                    "The address is kept in the config file, the password in the OS keyring only."
                )
            )
        self._update_buttons()

    def _update_buttons(self) -> None:
        locked = self.from_environment or self._busy
        self.url.setReadOnly(self.from_environment)
        self.password.setEnabled(not self.from_environment)
        has_url = bool(self.url.text().strip())
        self.test_button.setEnabled(has_url and not self._busy)
        self.connect_button.setEnabled(has_url and not locked)
        configured = self._settings is not None and self._settings.url is not None
        self.disconnect_button.setEnabled(configured and not locked)

    # -- actions --------------------------------------------------------------------------

    def test(self) -> None:
        """Log in to the server in the form as sync would, and say how it went."""
        url, password = self.url.text().strip(), self.password.text()
        if not url:
            return
        self._start(self.tr("Testing the connection…"))
        self._host.call(lambda rt: test_connection(rt, url, password), self._tested, self._failed)

    def connect_server(self) -> None:
        """Test the server; if it answers, keep it and sync with it from now on."""
        url, password = self.url.text().strip(), self.password.text()
        if not url or self.from_environment:
            return
        self._start(self.tr("Connecting…"))
        self._host.call(lambda rt: connect(rt, url, password), self._connected, self._failed)

    def disconnect_server(self, *, confirm: bool = True) -> None:
        """Stop syncing and forget the server and its password (local data stays)."""
        if self.from_environment:
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                self.tr("Disconnect"),
                self.tr(
                    "Stop syncing and forget the server and its password? Your data stays on "
                    "this computer; changes made meanwhile are sent when you connect again."
                ),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._start(self.tr("Disconnecting…"))
        self._host.call(disconnect, self._disconnected, self._failed)

    def _start(self, text: str) -> None:
        self._busy = True
        self._update_buttons()
        self._show(text, "")

    def _tested(self, report: ConnectionReport) -> None:
        self._busy = False
        self._show(report.describe(), OK_STYLE)
        self._update_buttons()

    def _connected(self, done: Connected) -> None:
        self._busy = False
        self.password.clear()
        self._show(self.tr("%1 Saved; sync is on.").replace("%1", done.report.describe()), OK_STYLE)
        self.load()
        self.changed.emit()

    def _disconnected(self, server: str | None) -> None:
        self._busy = False
        self.url.clear()
        self.password.clear()
        if server is None:
            self._show(
                self.tr("Sync is off: the server and its password are no longer kept."), OK_STYLE
            )
        else:
            self._show(
                self.tr("Forgotten here, but ATOM_SYNC_URL still names %1.").replace("%1", server),
                FAILED_STYLE,
            )
        self.load()
        self.changed.emit()

    def _failed(self, error: AtomError) -> None:
        self._busy = False
        self._show(describe_failure(error), FAILED_STYLE)
        self._update_buttons()

    def _show(self, text: str, style: str) -> None:
        colour = status_colours(style, dark=current_theme(self).dark)[1]
        self.result.setStyleSheet(f"color: {colour.name()};")
        self.result.setText(text)
        self.result.show()
