"""Settings: API tokens, start at login, notifications, updates, locations, encryption, API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.config.config_file import read_config_file
from atom_desktop.config.config_update import update_config_file
from atom_desktop.config.settings import split_origins
from atom_desktop.core.errors import AtomError
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.column_sizing import fit_columns
from atom_desktop.gui.empty_state import EmptyState
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.alert_settings import AlertSettingsBox
from atom_desktop.gui.pages.assistant_settings import AssistantSettingsBox
from atom_desktop.gui.pages.token_dialogs import NewTokenDialog, TokenSecretDialog
from atom_desktop.gui.pages.updates_box import UpdatesBox
from atom_desktop.gui.preferences import Preferences
from atom_desktop.gui.relative_time import set_time_cell

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.tokens import TokenRecord


#: The token table's column that takes the width left over.
SCOPES_COLUMN = 1


class StartAtLogin(Protocol):
    """What the page needs of the start-at-login entry (atom_desktop.platform.autostart)."""

    def is_enabled(self) -> bool:
        """Whether the entry exists."""
        ...

    def enable(self) -> None:
        """Create the entry."""
        ...

    def disable(self) -> None:
        """Remove the entry."""
        ...

    def describe(self) -> str:
        """Where the entry lives, for a person."""
        ...


class SettingsPage(QWidget):
    """Everything a person may change, and where things are."""

    #: The person asked for the Sync page (where the sync server is set).
    open_sync = Signal()

    def __init__(
        self,
        host: AgentHost,
        preferences: Preferences,
        start_at_login: StartAtLogin,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._preferences = preferences
        self._start_at_login = start_at_login
        settings, paths = host.settings, host.paths

        # Tokens
        self.tokens = QTreeWidget()
        self.tokens.setRootIsDecorated(False)
        self.tokens.setHeaderLabels(
            [
                self.tr("Name"),
                self.tr("Scopes"),
                self.tr("Created"),
                self.tr("Last used"),
                self.tr("State"),
            ]
        )
        # Every column as wide as its content; the scopes take what is left.
        fit_columns(self.tokens, elastic=SCOPES_COLUMN)
        self.tokens.setAccessibleName(self.tr("API tokens"))
        self.tokens.setMinimumHeight(self.fontMetrics().height() * 6)
        # The owner token (the command line's, made at first start) is always listed;
        # what is "empty" is a list without any token a person made.
        self.tokens_empty = EmptyState(
            self.tr("No tokens of your own yet"),
            self.tr(
                "The owner token above is the atom command line's on this computer. Scripts "
                "and the ATOM web app should each get their own token, with only the access "
                "they need, so it can be revoked alone. New token makes one; it is listed here."
            ),
            action=self.tr("New token…"),
        )
        self.tokens_empty.hide()
        self.tokens_empty.action_requested.connect(self.new_token)
        self.new_token_button = QPushButton(self.tr("New token…"))
        self.new_token_button.setAccessibleName(self.tr("Create an API token"))
        self.revoke_button = QPushButton(self.tr("Revoke"))
        self.revoke_button.setAccessibleName(self.tr("Revoke the selected token"))
        token_box = QGroupBox(self.tr("API tokens"))
        token_layout = QVBoxLayout(token_box)
        token_layout.addWidget(self.tokens)
        token_layout.addWidget(self.tokens_empty)
        token_buttons = QHBoxLayout()
        token_buttons.addWidget(self.new_token_button)
        token_buttons.addWidget(self.revoke_button)
        token_buttons.addStretch(1)
        token_layout.addLayout(token_buttons)

        # General
        self.start_at_login = QCheckBox(self.tr("Start ATOM Desktop when I log in (in the tray)"))
        self.start_at_login.setAccessibleName(self.tr("Start at login"))
        self.start_at_login.setToolTip(start_at_login.describe())
        self.notifications = QCheckBox(self.tr("Notify me when a run finishes or fails"))
        self.notifications.setAccessibleName(self.tr("Notifications"))
        general = QGroupBox(self.tr("General"))
        general_layout = QVBoxLayout(general)
        general_layout.addWidget(self.start_at_login)
        general_layout.addWidget(self.notifications)

        # Locations
        locations = QGroupBox(self.tr("Locations"))
        location_form = QFormLayout(locations)
        for label, path in (
            (self.tr("Data:"), paths.data_dir),
            (self.tr("Config:"), paths.config_dir),
            (self.tr("Logs:"), paths.log_dir),
        ):
            location_form.addRow(label, self._location_row(label, path))

        # Sync: set on its own page, with its status and conflicts.
        self.open_sync_button = QPushButton(self.tr("Open the Sync page…"))
        self.open_sync_button.setAccessibleName(self.tr("Open the Sync page"))
        sync_note = QLabel(
            self.tr(
                "The sync server (its address, and its password in the OS keyring), the sync "
                "status and the conflicts are on the Sync page."
            )
        )
        sync_note.setWordWrap(True)
        sync = QGroupBox(self.tr("Sync"))
        sync_layout = QHBoxLayout(sync)
        sync_layout.addWidget(sync_note, 1)
        sync_layout.addWidget(self.open_sync_button)

        # Updates: the opt-out (config.toml) and what the checks found.
        self.updates = UpdatesBox(host, paths.config_file, settings.update_check)
        self.alerts = AlertSettingsBox(host, paths.config_file, settings)
        self.assistant = AssistantSettingsBox(host, paths.config_file, settings)

        # Encryption
        self.key_storage = QLabel("—")
        self.keyring_backend = QLabel("—")
        encryption = QGroupBox(self.tr("Encryption"))
        encryption_form = QFormLayout(encryption)
        encryption_form.addRow(self.tr("Database key:"), self.key_storage)
        encryption_form.addRow(self.tr("Keyring backend:"), self.keyring_backend)

        # API server (config.toml; takes effect at the next start)
        # The fields show what the config file says (the environment may
        # override it; the note says so), and Save writes only what changed.
        file_values = _config_values(paths.config_file)
        self._saved_port = _file_port(file_values, settings.port)
        self._saved_origins = _file_origins(file_values, settings.allowed_origins)
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setValue(self._saved_port)
        self.port.setAccessibleName(self.tr("API port"))
        self.origins = QLineEdit(", ".join(self._saved_origins))
        self.origins.setPlaceholderText(self.tr("none: browsers may not call the API"))
        self.origins.setAccessibleName(self.tr("Allowed browser origins"))
        self.save_api = QPushButton(self.tr("Save"))
        self.save_api.setAccessibleName(self.tr("Save the API settings"))
        overridden = [n for n in ("ATOM_PORT", "ATOM_ALLOWED_ORIGINS") if os.environ.get(n)]
        note = self.tr("Changes to the port or the origins take effect after a restart.")
        if overridden:
            note += self.tr(" Set in the environment now, which wins over this file: %1.").replace(
                "%1", ", ".join(overridden)
            )
        self.api_note = QLabel(note)
        self.api_note.setWordWrap(True)
        api = QGroupBox(self.tr("API server"))
        api_form = QFormLayout(api)
        api_form.addRow(self.tr("Port:"), self.port)
        api_form.addRow(self.tr("Allowed origins:"), self.origins)
        api_form.addRow("", self.save_api)
        api_form.addRow(self.api_note)

        self.message = ErrorLabel()
        self.message.setAccessibleName(self.tr("Settings message"))
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.addWidget(self.message)
        for box in (
            token_box,
            general,
            self.alerts,
            self.assistant,
            self.updates,
            sync,
            api,
            encryption,
            locations,
        ):
            content_layout.addWidget(box)
        content_layout.addStretch(1)
        self.content_scroll = QScrollArea()
        self.content_scroll.setWidgetResizable(True)
        self.content_scroll.setWidget(content)
        QVBoxLayout(self).addWidget(self.content_scroll)

        self.load_preferences()
        self.new_token_button.clicked.connect(self.new_token)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.start_at_login.toggled.connect(self._toggle_start_at_login)
        self.notifications.toggled.connect(self._toggle_notifications)
        self.save_api.clicked.connect(self.save_api_settings)
        self.open_sync_button.clicked.connect(self.open_sync)
        host.when_started(self.refresh)

    def show_assistant_settings(self) -> None:
        """Scroll the Assistant box into view, the cursor in its provider choice."""
        self.content_scroll.ensureWidgetVisible(self.assistant)
        self.assistant.provider.setFocus()

    def _location_row(self, label: str, path: Path) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        text = QLabel(str(path))
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        button = QPushButton(self.tr("Open folder"))
        button.setAccessibleName(self.tr("Open the {0} folder").format(label.rstrip(":").lower()))
        button.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))
        layout.addWidget(text, 1)
        layout.addWidget(button)
        return row

    # -- state ---------------------------------------------------------------------------------

    def load_preferences(self) -> None:
        """Show the saved preferences and the start-at-login state."""
        for box, value in (
            (self.notifications, self._preferences.notifications),
            (self.start_at_login, self._start_at_login.is_enabled()),
        ):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Reload tokens and the key's state from the agent."""
        runtime = self._host.runtime
        key = runtime.store.key if runtime is not None else None
        if key is not None:
            self.key_storage.setText(key.describe())
            self.keyring_backend.setText(
                key.keyring_backend or self.tr("— (the key is not in an OS keyring)")
            )
        self._host.call(jobs.list_tokens, self._show_tokens, self._error)

    def _show_tokens(self, records: list[TokenRecord]) -> None:
        self.tokens.clear()
        self.tokens_empty.setVisible(not any(r.kind != "owner" for r in records))
        for record in records:
            item = QTreeWidgetItem(
                [
                    record.name,
                    " ".join(sorted(record.scopes)),
                    "",
                    "",
                    self.tr("active") if record.active else self.tr("revoked"),
                ]
            )
            set_time_cell(item, 2, record.created_at)
            set_time_cell(item, 3, record.last_used_at)
            if record.last_used_at is None:
                item.setText(3, self.tr("never"))
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setData(1, Qt.ItemDataRole.UserRole, record.kind)
            item.setDisabled(not record.active)
            self.tokens.addTopLevelItem(item)

    # -- actions ---------------------------------------------------------------------------------

    def new_token(self) -> None:
        """Ask for a name and scopes, create the token, show its secret once."""
        dialog = NewTokenDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        name, scopes = dialog.name.text().strip(), dialog.chosen_scopes()

        def created(result: tuple[TokenRecord, str]) -> None:
            record, secret = result
            self.refresh()
            self.last_secret_dialog = TokenSecretDialog(record.name, secret, self)
            self.last_secret_dialog.open()

        self._host.call(lambda rt: jobs.create_token(rt, name, scopes), created, self._error)

    def revoke_selected(self, *, confirm: bool = True) -> None:
        """Revoke the selected token (after asking)."""
        item = self.tokens.currentItem()
        if item is None or item.isDisabled():
            return
        if item.data(1, Qt.ItemDataRole.UserRole) == "owner":
            self._error(
                AtomError(self.tr("The owner token is the app's own; it cannot be revoked."))
            )
            return
        token_id = str(item.data(0, Qt.ItemDataRole.UserRole))
        if confirm:
            answer = QMessageBox.question(
                self,
                self.tr("Revoke token"),
                self.tr("Revoke “{0}”? Programs using it stop working.").format(item.text(0)),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self._host.call(
            lambda rt: jobs.revoke_token(rt, token_id), lambda _: self.refresh(), self._error
        )

    def _toggle_start_at_login(self, enabled: bool) -> None:
        try:
            if enabled:
                self._start_at_login.enable()
            else:
                self._start_at_login.disable()
        except (AtomError, OSError) as exc:
            self._error(exc if isinstance(exc, AtomError) else AtomError(str(exc)))
            self.load_preferences()

    def _toggle_notifications(self, enabled: bool) -> None:
        self._preferences.notifications = enabled
        self._save_preferences()

    def _save_preferences(self) -> None:
        try:
            self._preferences.save(self._host.paths.config_dir)
        except OSError as exc:
            self._error(
                AtomError(self.tr("Could not save the preferences: %1").replace("%1", str(exc)))
            )

    def save_api_settings(self) -> None:
        """Write the port and origins to config.toml (used at the next start)."""
        origins = tuple(o.strip() for o in self.origins.text().split(",") if o.strip())
        changes: dict[str, object] = {}
        if self.port.value() != self._saved_port:
            changes["port"] = self.port.value()
        if origins != self._saved_origins:
            changes["allowed_origins"] = origins or None
        if not changes:
            self.api_note.setText(self.tr("Nothing changed."))
            return
        try:
            update_config_file(self._host.paths.config_file, changes)
        except (AtomError, OSError) as exc:
            self.api_note.setText(self.tr("Not saved: {0}").format(exc))
            return
        self._saved_port, self._saved_origins = self.port.value(), origins
        self.api_note.setText(
            self.tr("Saved to {0}. Restart ATOM Desktop to use them.").format(
                self._host.paths.config_file
            )
        )

    def _error(self, error: AtomError) -> None:
        # A label, not a modal box: errors can arrive from background refreshes.
        self.message.show_error(str(error))


def _file_port(values: dict[str, Any], default: int) -> int:
    """The file's port, or ``default`` where it has none the agent could use.

    The environment may override a bad value in the file, so the agent can
    run with one; the page must still open.
    """
    port = values.get("port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 65535:
        return port
    return default


def _file_origins(values: dict[str, Any], default: tuple[str, ...]) -> tuple[str, ...]:
    """The file's allowed origins (a list, or a comma-separated string as the settings take)."""
    origins = values.get("allowed_origins")
    if isinstance(origins, str):
        return split_origins(origins)
    if isinstance(origins, list) and all(isinstance(origin, str) for origin in origins):
        return tuple(origins)
    return default


def _config_values(path: Path) -> dict[str, Any]:
    """The config file's values; {} when it is missing or unreadable (the agent says why)."""
    try:
        return read_config_file(path)
    except AtomError:
        return {}
