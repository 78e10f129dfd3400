"""In-window notifications, shown in the status bar where they cover no control.

A desktop notification balloon appears near the tray, which is often over
the window's own top-right corner (the Console's Find field). While the
window is in front, a notification goes here instead: the status bar is a
strip of its own at the bottom, so nothing is hidden under it.

Usage::

    bar = ToastBar()
    window.statusBar().addPermanentWidget(bar)
    bar.show_toast("Run failed (exit 1)", "make test", failed=True)
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from atom_desktop.gui.status_chip import status_colours
from atom_desktop.gui.style import Spacing, current_theme

#: How long a toast stays, in milliseconds.
TOAST_MS: Final = 8000


class ToastBar(QFrame):
    """One notification at a time: a coloured strip with a title, a message and a close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setAccessibleName(self.tr("Notification"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(Spacing.S, 2, 2, 2)
        layout.setSpacing(Spacing.S)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.message = QLabel()
        self.message.setMaximumWidth(480)
        self.close_button = QToolButton()
        self.close_button.setText("\N{MULTIPLICATION SIGN}")
        self.close_button.setAutoRaise(True)
        self.close_button.setAccessibleName(self.tr("Dismiss the notification"))
        self.close_button.setToolTip(self.tr("Dismiss"))
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.close_button)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(TOAST_MS)
        self._timer.timeout.connect(self.hide)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def show_toast(self, title: str, message: str, *, failed: bool = False) -> None:
        """Show a notification for a few seconds (replacing the one shown)."""
        background, text = status_colours(
            "failed" if failed else "running", dark=current_theme(self).dark
        )
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, background)
        palette.setColor(QPalette.ColorRole.WindowText, text)
        palette.setColor(QPalette.ColorRole.ButtonText, QColor(text))
        self.setPalette(palette)
        self.title.setText(title)
        self.message.setText(
            self.message.fontMetrics().elidedText(
                " ".join(message.split()), Qt.TextElideMode.ElideMiddle, 480
            )
        )
        self.message.setToolTip(message)
        self.setAccessibleDescription(f"{title}. {message}")
        self.show()
        self._timer.start()
