"""The first-run question: where to keep the database key when the keyring must prompt first.

The agent's start asks it (gui/agent_host.py) when the OS keyring has no
default keyring yet or is locked: asking the keyring would put up its own
password prompt, and the window should neither wait behind it nor appear to
hang. So the window says what is going on and offers two answers:

- "Use the OS keyring": the keyring's own prompt appears (to make or unlock
  it); if it is cancelled, the question comes back saying so;
- "Keep the key in a file": a 0600 key file in the config directory, with
  the warning that goes with it (shown here before the choice, and on Home
  and in ``status`` after it).

The dialog is not modal: the window and the tray stay usable while it waits.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.gui.agent_host import AgentHost, KeyStorageRequest

logger = logging.getLogger(__name__)

#: The question's title (untranslated; the dialog shows it through tr()).
TITLE = "Where should ATOM Desktop keep its key?"


class KeyStorageDialog(QDialog):
    """Asks once; the answer goes to the agent, which carries on with it."""

    def __init__(self, request: KeyStorageRequest, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._request = request
        question = request.question
        self.setWindowTitle(self.tr("Where should ATOM Desktop keep its key?"))
        self.setAccessibleName(self.tr("Key storage question"))
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        # The title again, inside: some desktops show dialogs without a title bar.
        self.heading = QLabel(f"<b>{self.windowTitle()}</b>")
        self.text = QLabel(question.text())
        self.text.setWordWrap(True)
        self.text.setAccessibleName(self.tr("Why ATOM Desktop asks"))
        # Alt+U and Alt+K answer from the keyboard.
        self.use_keyring = QPushButton(self.tr("&Use the OS keyring"))
        self.use_keyring.setAccessibleName(self.tr("Use the OS keyring"))
        self.use_keyring.setToolTip(self.tr("The OS keyring shows its own password prompt next."))
        self.use_keyring.setDefault(True)
        self.use_file = QPushButton(self.tr("&Keep the key in a file"))
        self.use_file.setAccessibleName(self.tr("Keep the key in a file"))
        self.file_warning = QLabel(f"⚠ {question.file_warning()}")
        self.file_warning.setWordWrap(True)
        self.file_warning.setAccessibleName(self.tr("What a key file means"))
        self.use_file.setVisible(question.file_allowed)
        self.file_warning.setVisible(question.file_allowed)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_file)
        buttons.addWidget(self.use_keyring)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        layout.addWidget(self.file_warning)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

        self.use_keyring.clicked.connect(lambda: self.answer("keyring"))
        self.use_file.clicked.connect(lambda: self.answer("file"))

    def answer(self, choice: str) -> None:
        """Send the answer ("keyring" or "file") to the agent and close."""
        if choice == "file" and not self._request.question.file_allowed:
            return
        if not self._request.answer.done():
            logger.info("Key storage chosen in the window: %s", choice)
            self._request.answer.set_result(choice)
        self.done(QDialog.DialogCode.Accepted)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Escape does not dismiss the question: the agent waits for an answer."""
        if event.key() == Qt.Key.Key_Escape:
            event.ignore()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closing does not answer the question; Quit (tray) still ends the app."""
        if self._request.answer.done():
            super().closeEvent(event)
        else:
            event.ignore()


class KeyStorageQuestion(QObject):
    """Shows the question in ``window`` each time the agent asks it.

    ``waiting`` says the question is open (with the answers it offers, as its
    buttons name them); ``settled`` that it is answered. :meth:`bring_back`
    puts it in front again (for Home's key line, while it waits).
    """

    waiting = Signal(list)  # the answers offered, as shown: list[str]
    settled = Signal()

    def __init__(self, host: AgentHost, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.dialog: KeyStorageDialog | None = None
        self._title = ""
        host.key_storage_asked.connect(self.ask)

    def ask(self, request: KeyStorageRequest) -> None:
        """Show the question, not modal, over the window (raised, even if the window is hidden)."""
        if request.answer.done():  # cancelled before it arrived here
            return
        dialog = KeyStorageDialog(request, self._window)
        dialog.accepted.connect(lambda: self._show_waiting(request))
        dialog.finished.connect(lambda _result: self.settled.emit())
        self.dialog = dialog
        self._title = dialog.windowTitle()
        self._window.statusBar().showMessage(self._title)
        self.bring_back()
        answers = [dialog.use_keyring.accessibleName()]
        if request.question.file_allowed:
            answers.append(dialog.use_file.accessibleName())
        self.waiting.emit(answers)

    def bring_back(self) -> None:
        """Put the open question in front again (nothing when none is open)."""
        if self.dialog is None:
            return
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def _show_waiting(self, request: KeyStorageRequest) -> None:
        self.dialog = None
        # The window's own "Agent running" replaces either message once it has started.
        if request.answer.done() and not request.answer.cancelled():
            bar = self._window.statusBar()
            if request.answer.result() == "keyring":
                bar.showMessage(self.tr("Waiting for the OS keyring: answer its password prompt."))
            elif bar.currentMessage() == self._title:
                bar.clearMessage()
