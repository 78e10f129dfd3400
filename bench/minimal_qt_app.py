"""Baseline of bench/startup.py: the least a PySide6 app does to show a window and a tray icon.

Prints "Window painted" on stderr once its window has first been painted,
like atom-desktop logs it, then idles in the event loop until SIGTERM (which
ends it at once).
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QSystemTrayIcon


class Window(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Minimal")
        self.setCentralWidget(QLabel("minimal"))
        self.resize(1100, 720)
        self.painted = False

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.Paint and not self.painted:
            self.painted = True
            print("Window painted", file=sys.stderr, flush=True)
        return handled


def main() -> int:
    app = QApplication(sys.argv)
    pixmap = QPixmap(22, 22)
    pixmap.fill()
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.show()
    window = Window()
    if "--hidden" not in sys.argv:
        window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
