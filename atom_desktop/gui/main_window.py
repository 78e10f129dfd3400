"""The main window: a navigation rail and the pages."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QStyle,
    QWidget,
)

from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.pages.activity import ActivityPage
from atom_desktop.gui.pages.automations import AutomationsPage
from atom_desktop.gui.pages.console import ConsolePage
from atom_desktop.gui.pages.home import HomePage
from atom_desktop.gui.pages.settings import SettingsPage, StartAtLogin
from atom_desktop.gui.pages.tasks import TasksPage
from atom_desktop.gui.preferences import Preferences

logger = logging.getLogger(__name__)

# New pages go at the end: their Ctrl+number shortcuts stay what people learned.
PAGES = ("Home", "Tasks", "Console", "Activity", "Settings", "Automations")


class MainWindow(QMainWindow):
    """Navigation rail on the left, the selected page on the right.

    Closing the window does not quit: ``close_requested`` lets the app decide
    (hide to the tray, or ask where there is no tray).
    """

    close_requested = Signal()

    def __init__(
        self,
        host: AgentHost,
        preferences: Preferences,
        start_at_login: StartAtLogin,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("ATOM Desktop")
        self.resize(1100, 720)
        self.home = HomePage(host)
        self.tasks = TasksPage(host)
        self.console = ConsolePage(host)
        self.activity = ActivityPage(host)
        self.settings_page = SettingsPage(host, preferences, start_at_login)
        self.automations = AutomationsPage(host)
        self.pages = QStackedWidget()
        self.rail = QListWidget()
        self.rail.setAccessibleName("Navigation")
        self.rail.setIconSize(QSize(20, 20))
        self.rail.setFixedWidth(150)
        self.rail.setFrameShape(QListWidget.Shape.NoFrame)
        icons = (
            QStyle.StandardPixmap.SP_DirHomeIcon,
            QStyle.StandardPixmap.SP_FileDialogDetailedView,
            QStyle.StandardPixmap.SP_ComputerIcon,
            QStyle.StandardPixmap.SP_FileDialogInfoView,
            QStyle.StandardPixmap.SP_FileDialogContentsView,
            QStyle.StandardPixmap.SP_BrowserReload,
        )
        widgets = (
            self.home,
            self.tasks,
            self.console,
            self.activity,
            self.settings_page,
            self.automations,
        )
        for index, (name, icon, page) in enumerate(zip(PAGES, icons, widgets, strict=True)):
            item = QListWidgetItem(self.style().standardIcon(icon), name)
            item.setToolTip(f"{name} (Ctrl+{index + 1})")
            item.setSizeHint(QSize(140, 40))
            self.rail.addItem(item)
            self.pages.addWidget(page)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.activated.connect(lambda i=index: self.show_page(i))
        self.rail.currentRowChanged.connect(self.pages.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.rail)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self._shown_once = False
        self.statusBar().showMessage("Starting the agent…")
        self.show_page(0)

        self.home.run_started.connect(self.show_run)
        self.home.open_run.connect(self.show_run)
        self.automations.open_run.connect(self.show_run)
        host.started.connect(lambda: self.statusBar().showMessage("Agent running", 5000))
        host.failed.connect(lambda message: self.statusBar().showMessage(message))

    def show_page(self, index: int) -> None:
        """Switch to a page by its place in the rail."""
        self.rail.setCurrentRow(index)

    def page_name(self) -> str:
        """The name of the page shown."""
        return PAGES[self.pages.currentIndex()]

    def show_run(self, run_id: str, command: str) -> None:
        """Open a run in the console and show it."""
        self.console.open_run(run_id, command)
        self.show_page(PAGES.index("Console"))

    def show_approvals(self) -> None:
        """Show the approvals inbox of the Automations page."""
        self.show_page(PAGES.index("Automations"))
        self.automations.show_approvals()

    def bring_to_front(self) -> None:
        """Show, un-minimise and raise the window."""
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.show()
        self.raise_()
        self.activateWindow()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Note the first show in the log (start-up time is measured to it)."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            logger.info("Window shown")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closing hides (the app decides whether that means quit)."""
        event.ignore()
        self.close_requested.emit()
