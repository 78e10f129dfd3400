"""The one way a page or dialog shows what went wrong: a red line, hidden when all is well."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class ErrorLabel(QLabel):
    """A wrapped, red message; hidden until :meth:`show_error`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setStyleSheet("color: #c62828;")
        self.hide()

    def show_error(self, message: str) -> None:
        """Show ``message``."""
        self.setText(message)
        self.show()
