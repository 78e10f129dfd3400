"""The Integrations page's dialogs: connect a service by signing in, or add its key.

Each dialog asks only for what the provider's catalogue record needs (a
subdomain, an issuer URL, the OAuth app's client id when none is set, a key
and a secret) and stays open while the agent works on it, so a value the
service refuses can be corrected without typing the others again: the page
runs the job and hands its answer to :meth:`ProviderDialog.succeed` (which
closes the dialog and passes it on as ``succeeded``) or its error to
:meth:`ProviderDialog.fail_with`. Secrets are typed into password fields and
are read only to be handed to the agent.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QUrl, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.style import current_theme

#: The redirect address to register with a provider (any loopback port matches it).
REDIRECT_ADDRESS = "http://127.0.0.1/oauth/callback"
NOTE_STYLE = "color: palette(placeholder-text);"

#: How each kind of provider connects, in words (the catalogue's AuthKind values);
#: these tables are marked for translation and shown through :func:`_words`.
AUTH_WORDS = {
    "oauth2": QT_TRANSLATE_NOOP("ProviderDialog", "Sign in with the browser (OAuth 2.0)"),
    "api_key": QT_TRANSLATE_NOOP("ProviderDialog", "API key"),
    "bot_token": QT_TRANSLATE_NOOP("ProviderDialog", "Bot token"),
    "key_secret": QT_TRANSLATE_NOOP("ProviderDialog", "Key and secret"),
    "user_token": QT_TRANSLATE_NOOP("ProviderDialog", "Personal access token"),
}
#: Labels of the values a key is made of (health.needed_values), by kind of provider.
SECRET_LABELS = {
    "api_key": {"token": QT_TRANSLATE_NOOP("ProviderDialog", "API key:")},
    "bot_token": {"token": QT_TRANSLATE_NOOP("ProviderDialog", "Bot token:")},
    "user_token": {"token": QT_TRANSLATE_NOOP("ProviderDialog", "Access token:")},
    "key_secret": {
        "key": QT_TRANSLATE_NOOP("ProviderDialog", "Key:"),
        "secret": QT_TRANSLATE_NOOP("ProviderDialog", "Secret:"),
    },
}
#: Labels of the parameters a record may name; others are spelled from their name.
PARAMETER_LABELS = {
    "issuer": QT_TRANSLATE_NOOP("ProviderDialog", "Issuer URL:"),
    "account_sid": QT_TRANSLATE_NOOP("ProviderDialog", "Account SID:"),
    "phone_number_id": QT_TRANSLATE_NOOP("ProviderDialog", "Phone number id:"),
    "homeserver": QT_TRANSLATE_NOOP("ProviderDialog", "Homeserver:"),
}


@dataclass(frozen=True)
class ProviderView:
    """A catalogue record as the window shows it, read on the agent thread."""

    id: str
    name: str
    category: str
    auth: str
    docs: str
    #: Values each account gives (``subdomain``, ``issuer``).
    parameters: tuple[str, ...]
    notes: str
    is_oauth: bool
    #: The configured OAuth client id (None: none is set, or not an OAuth provider).
    client_id: str | None = None
    client_secret_required: bool = False
    #: The values a key is made of (``token``, or ``key`` and ``secret``); OAuth: none.
    needed: tuple[str, ...] = ()
    #: Where each parameter goes, as the start of one of the record's URLs.
    examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def connects_by(self) -> str:
        """How the service connects, in words."""
        words = _words(AUTH_WORDS.get(self.auth), self.auth)
        if self.parameters:
            names = ", ".join(_in_sentence(parameter_label(p)) for p in self.parameters)
            words += QCoreApplication.translate("ProviderDialog", "; needs the %1").replace(
                "%1", names
            )
        return words


@dataclass(frozen=True)
class ClientEntry:
    """The OAuth app a person registered with a provider: its id and, maybe, its secret."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)


def parameter_label(name: str) -> str:
    """A parameter's field label (``subdomain`` -> ``Subdomain:``), translated."""
    return _words(PARAMETER_LABELS.get(name), name.replace("_", " ").capitalize() + ":")


def secret_label(auth: str, name: str) -> str:
    """The field label of a key's value ``name`` for a provider of kind ``auth``, translated."""
    return _words(SECRET_LABELS.get(auth, {}).get(name), f"{name.capitalize()}:")


def _words(marked: object, fallback: str) -> str:
    """A table's marked words, translated; ``fallback`` when the table has none."""
    if marked is None:
        return fallback
    return QCoreApplication.translate("ProviderDialog", str(marked))


def _in_sentence(label: str) -> str:
    """A field label inside a sentence (``Issuer URL:`` -> ``issuer URL``)."""
    text = label.rstrip(":")
    return text[:1].lower() + text[1:]


def _line(name: str, *, secret: bool = False) -> QLineEdit:
    line = QLineEdit()
    line.setAccessibleName(name)
    if secret:
        line.setEchoMode(QLineEdit.EchoMode.Password)
    return line


class ProviderDialog(QDialog):
    """What both dialogs share: the provider's summary, fields, an error line, and busy state.

    ``submitted`` is emitted when OK is pressed and the fields are filled in;
    the dialog then waits (its buttons disabled) for :meth:`finish` or
    :meth:`fail`.
    """

    submitted = Signal()
    #: What the agent answered once it did it (the dialog has closed).
    succeeded = Signal(object)

    def __init__(
        self,
        provider: ProviderView,
        title: str,
        ok_text: str,
        open_url: Callable[[QUrl], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.provider = provider
        self.setWindowTitle(title)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 68)
        summary = QLabel(
            # The link in the theme's accent: readable on the dark palette too.
            self.tr(
                '<b>{0}</b>: {1}. <a href="{2}" style="color: {3}">Its documentation</a>'
            ).format(
                html.escape(provider.name),
                html.escape(provider.connects_by),
                html.escape(provider.docs),
                current_theme(self).colours.accent,
            )
        )
        summary.setWordWrap(True)
        summary.setTextFormat(Qt.TextFormat.RichText)
        summary.linkActivated.connect(lambda url: open_url(QUrl(url)))
        self.summary = summary
        self.notes = QLabel(provider.notes)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet(NOTE_STYLE)
        self.notes.setVisible(bool(provider.notes))
        self.form = QFormLayout()
        self.parameters: dict[str, QLineEdit] = {}
        for name in provider.parameters:
            line = _line(f"{provider.name} {name}")
            example = provider.examples.get(name)
            if name == "issuer":
                line.setPlaceholderText(self.tr("https://login.example.com"))
            elif example:
                line.setPlaceholderText(self.tr("as in {0}").format(example))
            self.parameters[name] = line
            self.form.addRow(parameter_label(name), line)
        self.error = ErrorLabel()
        self.error.setAccessibleName(self.tr("Dialog error"))
        self.status = QLabel()
        self.status.setStyleSheet(NOTE_STYLE)
        self.status.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.ok_button
        ok.setText(ok_text)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.notes)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fit the height to the wrapped lines at the dialog's width, once it is laid out."""
        super().showEvent(event)
        self.resize(self.width(), self.heightForWidth(self.width()))

    @property
    def ok_button(self) -> QPushButton:
        """The button that submits the dialog."""
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert button is not None  # made with the dialog
        return button

    def parameter_values(self) -> dict[str, str]:
        """The parameters typed in, trimmed."""
        return {name: line.text().strip() for name, line in self.parameters.items()}

    def missing(self) -> list[str]:
        """Labels of the required fields left empty."""
        return [
            parameter_label(name).rstrip(":")
            for name, value in self.parameter_values().items()
            if not value
        ]

    def submit(self) -> None:
        """Check the fields are filled in, then ask the page to act (as OK does)."""
        missing = self.missing()
        if missing:
            self.error.show_error(self.tr("Fill in: %1.").replace("%1", ", ".join(missing)))
            return
        self.error.hide()
        self._busy(True)
        self.submitted.emit()

    def finish(self) -> None:
        """The agent did it: close."""
        self._busy(False)
        self.accept()

    def succeed(self, result: object) -> None:
        """The agent did it: close, and hand its answer on."""
        self.finish()
        self.succeeded.emit(result)

    def fail_with(self, error: AtomError) -> None:
        """The agent refused (IntegrationError: its message and hint): say so here."""
        self.fail(str(error))

    def fail(self, message: str) -> None:
        """The agent could not: say why and let the person correct the fields."""
        self._busy(False)
        self.error.show_error(message)

    def _busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)
        self.status.setText(self.busy_message() if busy else "")
        self.status.setVisible(busy)

    def busy_message(self) -> str:
        """What the status line says while the agent works."""
        return self.tr("Working…")


class ConnectDialog(ProviderDialog):
    """Sign in to an OAuth provider: its parameters and, where needed, the app's client.

    The client fields are shown when no client id is configured for the
    provider (it is then saved: the id to the config file, the secret to the
    OS keyring), and always for the generic OpenID Connect provider, whose
    client belongs to the issuer named here.
    """

    def busy_message(self) -> str:
        """What the status line says while the sign-in starts."""
        return self.tr("Starting the sign-in…")

    def __init__(
        self,
        provider: ProviderView,
        open_url: Callable[[QUrl], object],
        *,
        ask_client: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            provider,
            QCoreApplication.translate("ConnectDialog", "Connect {0}").format(provider.name),
            QCoreApplication.translate("ConnectDialog", "Connect"),
            open_url,
            parent,
        )
        self.client_id = _line(self.tr("%1 client id").replace("%1", provider.name))
        self.client_secret = _line(
            self.tr("%1 client secret").replace("%1", provider.name), secret=True
        )
        self.ask_client = ask_client
        if ask_client:
            self.client_id.setText(provider.client_id or "")
            self.client_secret.setPlaceholderText(
                self.tr("required") if provider.client_secret_required else self.tr("optional")
            )
            # Read-only but selectable: it is copied into the provider's app settings.
            self.redirect = QLineEdit(REDIRECT_ADDRESS)
            self.redirect.setReadOnly(True)
            self.redirect.setAccessibleName(self.tr("Redirect address to register"))
            self.form.addRow(self.tr("Redirect address:"), self.redirect)
            self.form.addRow(self.tr("Client id:"), self.client_id)
            self.form.addRow(self.tr("Client secret:"), self.client_secret)
            note = QLabel(
                self.tr(
                    "Register an app with {0} with this redirect address (any port on it), then "
                    "enter its client id here. The id is kept in the config file, a secret only in"
                    " the OS keyring."
                ).format(provider.name)
            )
            note.setWordWrap(True)
            note.setStyleSheet(NOTE_STYLE)
            self.form.addRow(note)
        else:
            self.client_id.hide()
            self.client_secret.hide()

    def client(self) -> ClientEntry | None:
        """The client typed in (None when the dialog does not ask for one)."""
        if not self.ask_client:
            return None
        return ClientEntry(self.client_id.text().strip(), self.client_secret.text() or None)

    def missing(self) -> list[str]:
        """Parameters, and the client id (and a required secret) when asked for."""
        missing = super().missing()
        if self.ask_client and not self.client_id.text().strip():
            missing.append(self.tr("Client id"))
        if (
            self.ask_client
            and self.provider.client_secret_required
            and not self.client_secret.text()
        ):
            missing.append(self.tr("Client secret"))
        return missing

    def done(self, result: int) -> None:
        """Closing forgets a typed secret."""
        self.client_secret.clear()
        super().done(result)


class KeyDialog(ProviderDialog):
    """Add a service that connects with its own key: the key (or key and secret), parameters."""

    def busy_message(self) -> str:
        """What the status line says while the service checks the key."""
        return self.tr("Checking the key with the service…")

    def __init__(
        self,
        provider: ProviderView,
        open_url: Callable[[QUrl], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(
            provider,
            QCoreApplication.translate("KeyDialog", "Add {0}").format(provider.name),
            QCoreApplication.translate("KeyDialog", "Add key"),
            open_url,
            parent,
        )
        self.secrets: dict[str, QLineEdit] = {}
        for name in provider.needed:
            # A key_secret's key is an account's id (Twilio's SID, Trello's API
            # key): shown, so a typo can be seen. Everything else is secret.
            hidden = not (provider.auth == "key_secret" and name == "key")
            line = _line(f"{provider.name} {name}", secret=hidden)
            self.secrets[name] = line
            self.form.addRow(secret_label(provider.auth, name), line)
        note = QLabel(
            self.tr(
                "The key is checked with the service before it is kept, in the OS keyring "
                "(or, without one, the encrypted database)."
            )
        )
        note.setWordWrap(True)
        note.setStyleSheet(NOTE_STYLE)
        self.form.addRow(note)

    def secret_values(self) -> dict[str, str]:
        """The key's values by name (``token``, or ``key`` and ``secret``)."""
        return {name: line.text().strip() for name, line in self.secrets.items()}

    def missing(self) -> list[str]:
        """Parameters and every part of the key."""
        empty = [
            secret_label(self.provider.auth, name).rstrip(":")
            for name, value in self.secret_values().items()
            if not value
        ]
        return [*super().missing(), *empty]

    def done(self, result: int) -> None:
        """Closing forgets the typed key."""
        for line in self.secrets.values():
            line.clear()
        super().done(result)
