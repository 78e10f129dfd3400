"""Dialogs for API tokens: ask for a name and scopes; show a new secret once."""

from __future__ import annotations

import html

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.gui.error_label import ErrorLabel

# Marked for translation here, translated where shown.
SCOPES = [
    ("read", str(QT_TRANSLATE_NOOP("NewTokenDialog", "read: look at tasks, runs, events"))),
    ("run", str(QT_TRANSLATE_NOOP("NewTokenDialog", "run: start and cancel commands"))),
    (
        "automate",
        str(QT_TRANSLATE_NOOP("NewTokenDialog", "automate: change tasks and automations")),
    ),
    ("admin", str(QT_TRANSLATE_NOOP("NewTokenDialog", "admin: manage tokens, read the audit log"))),
]


class NewTokenDialog(QDialog):
    """Name and scopes of a new token."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("New API token"))
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("e.g. backup-script"))
        self.name.setAccessibleName(self.tr("Token name"))
        self.name.setMaxLength(64)
        self.scopes = {value: QCheckBox(self.tr(label)) for value, label in SCOPES}
        self.scopes["read"].setChecked(True)
        self.error = ErrorLabel()
        form = QFormLayout(self)
        form.addRow(self.tr("&Name:"), self.name)
        for box in self.scopes.values():
            box.setAccessibleName(box.text())
            form.addRow("", box)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen_scopes(self) -> list[str]:
        """The ticked scopes, in a fixed order."""
        return [value for value, box in self.scopes.items() if box.isChecked()]

    def _accept_if_valid(self) -> None:
        if not self.name.text().strip():
            self.error.show_error("Give the token a name, so you know later what uses it.")
        elif not self.chosen_scopes():
            self.error.show_error("Tick at least one scope.")
        else:
            self.accept()


class TokenSecretDialog(QDialog):
    """Shows a new token's secret, once, with a button to copy it."""

    def __init__(self, name: str, secret: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Token created"))
        self.secret = QLineEdit(secret)
        self.secret.setReadOnly(True)
        self.secret.setAccessibleName(self.tr("Token secret"))
        self.secret.setMinimumWidth(self.fontMetrics().averageCharWidth() * 60)
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setAccessibleName(self.tr("Copy the token"))
        self.copy_button.clicked.connect(self.copy)
        note = QLabel(
            self.tr(
                "The token <b>{0}</b> was created. Copy it now: it is shown only this once (only "
                "its hash is stored)."
            ).format(html.escape(name))
        )
        note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.secret, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.accept)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def done(self, result: int) -> None:
        """Closing forgets the secret: it is shown once, not kept in the window."""
        self.secret.clear()
        super().done(result)

    def copy(self) -> None:
        """Put the secret on the clipboard."""
        QGuiApplication.clipboard().setText(self.secret.text())
        self.copy_button.setText(self.tr("Copied"))
