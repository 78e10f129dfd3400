"""The main window: a navigation rail and the pages.

Only the Home page is built before the window first paints, and Activity just
before the agent starts. The other pages (and their modules) are built one
per turn of the event loop once the agent has started or failed to
(:meth:`MainWindow.build_pages_soon`), or at once when something asks for
one sooner. A person sees the window without waiting for pages they are not
looking at, nor for the settings, and the agent's start does not share the
interpreter with building them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar, cast

import shiboken6
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.icons import page_icon
from atom_desktop.gui.key_storage_question import KeyStorageQuestion
from atom_desktop.gui.navigation_rail import NavigationRail
from atom_desktop.gui.pages.home import HomePage
from atom_desktop.gui.preferences import Preferences
from atom_desktop.gui.style import apply_style, current_theme
from atom_desktop.gui.toast import ToastBar

if TYPE_CHECKING:
    from atom_desktop.gui.pages.activity import ActivityPage
    from atom_desktop.gui.pages.assistant import AssistantPage
    from atom_desktop.gui.pages.automations import AutomationsPage
    from atom_desktop.gui.pages.console import ConsolePage
    from atom_desktop.gui.pages.diagnostics import DiagnosticsPage
    from atom_desktop.gui.pages.integrations import IntegrationsPage
    from atom_desktop.gui.pages.settings import SettingsPage, StartAtLogin
    from atom_desktop.gui.pages.sync import SyncPage
    from atom_desktop.gui.pages.tasks import TasksPage

logger = logging.getLogger(__name__)

# New pages go at the end: their Ctrl+number shortcuts stay what people learned.
PAGES = (
    "Home",
    "Tasks",
    "Console",
    "Activity",
    "Settings",
    "Automations",
    "Sync",
    "Integrations",
    "Diagnostics",
    "Assistant",
)
# The rail's labels, marked for translation (PAGES stays the pages' stable names).
PAGE_TITLES = {
    "Home": QT_TRANSLATE_NOOP("MainWindow", "Home"),
    "Tasks": QT_TRANSLATE_NOOP("MainWindow", "Tasks"),
    "Console": QT_TRANSLATE_NOOP("MainWindow", "Console"),
    "Activity": QT_TRANSLATE_NOOP("MainWindow", "Activity"),
    "Settings": QT_TRANSLATE_NOOP("MainWindow", "Settings"),
    "Automations": QT_TRANSLATE_NOOP("MainWindow", "Automations"),
    "Sync": QT_TRANSLATE_NOOP("MainWindow", "Sync"),
    "Integrations": QT_TRANSLATE_NOOP("MainWindow", "Integrations"),
    "Diagnostics": QT_TRANSLATE_NOOP("MainWindow", "Diagnostics"),
    "Assistant": QT_TRANSLATE_NOOP("MainWindow", "Assistant"),
}


PageT = TypeVar("PageT", bound=QWidget)


class _LazyPage(Generic[PageT]):
    """A window attribute that is one of its pages, built when first read."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, window: MainWindow, owner: type | None = None) -> PageT:
        return cast(PageT, window.page(self.name))


class MainWindow(QMainWindow):
    """Navigation rail on the left, the selected page on the right.

    Closing the window does not quit: ``close_requested`` lets the app decide
    (hide to the tray, or ask where there is no tray). ``first_painted``
    comes once the window has first been painted; ``page_built`` says when a
    page has been built (its name), for whoever wires to its signals.
    """

    close_requested = Signal()
    first_painted = Signal()
    page_built = Signal(str)

    def __init__(
        self,
        host: AgentHost,
        preferences: Preferences,
        start_at_login: StartAtLogin,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # The look (light or dark palette) is settled before the first widget is
        # built, here rather than in the app so every way of making the window
        # (the app, the screenshots, the tests) gets the same one.
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_style(app)
        self.setWindowTitle("ATOM Desktop")
        self.resize(1100, 720)
        self._host = host
        self._builders: dict[str, Callable[[], QWidget]] = {
            "Tasks": lambda: _tasks_page(host),
            "Console": lambda: _console_page(host, self.focus_quick_command),
            "Activity": lambda: _activity_page(host, self.focus_quick_command),
            "Settings": lambda: _settings_page(host, preferences, start_at_login, self.show_sync),
            "Automations": lambda: _automations_page(host, self.show_run),
            "Sync": lambda: _sync_page(host),
            "Integrations": lambda: _integrations_page(host),
            "Diagnostics": lambda: _diagnostics_page(host),
            "Assistant": lambda: _assistant_page(host, self.show_run, self.show_assistant_settings),
        }
        self._built: dict[str, QWidget] = {}
        self.pages = QStackedWidget()
        # As wide as its longest label in the current font (it follows font changes).
        self.rail = NavigationRail()
        self.rail.setAccessibleName("Navigation")
        for index, name in enumerate(PAGES):
            title = QCoreApplication.translate("MainWindow", str(PAGE_TITLES[name]))
            item = QListWidgetItem(title)
            # The tenth page is Ctrl+0, the key after 9 on the keyboard's top row.
            key = f"Ctrl+{(index + 1) % 10}"
            item.setToolTip(f"{title} ({key})")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, title)
            self.rail.addItem(item)
            # A stand-in until the page is built (an empty area of the same place).
            self.pages.addWidget(QWidget())
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda i=index: self.show_page(i))
        self.home = cast(HomePage, self._page("Home", lambda: HomePage(host)))
        self.rail.currentRowChanged.connect(self._on_row)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.rail)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self._shown_once = False
        self._painted_once = False
        self._building = False
        # Notifications while the window is in front: in the status bar, over no control.
        self.toasts = ToastBar()
        self.statusBar().addPermanentWidget(self.toasts)
        self.statusBar().showMessage(self.tr("Starting the agent…"))
        self.show_page(0)

        self.home.run_started.connect(self.show_run)
        self.home.open_run.connect(self.show_run)
        self.home.open_automations.connect(lambda: self.show_page(PAGES.index("Automations")))
        host.started.connect(lambda: self.statusBar().showMessage("Agent running", 5000))
        host.failed.connect(lambda message: self.statusBar().showMessage(message))
        # Activity lists the agent's events from its very start, so it is built
        # first (it is cheap). The other pages wait until the agent has started
        # (or failed): built meanwhile, they would share the interpreter with
        # the agent's imports and the API would answer about 0.1 s later.
        host.starting.connect(lambda: self.page("Activity"))
        host.when_started(self.build_pages_soon)
        host.failed.connect(self.build_pages_soon)  # Settings may be what fixes it
        # The agent's start asks here, after the first paint, if the keyring must prompt.
        self.key_question = KeyStorageQuestion(host, self)
        # Home's key line says while it waits, and brings it back.
        self.key_question.waiting.connect(self.home.show_key_question)
        self.key_question.settled.connect(self.home.key_question_settled)
        self.home.key_question_requested.connect(self.key_question.bring_back)

    # -- pages ----------------------------------------------------------------------------

    # Each page by name, typed, built on first use.
    tasks: _LazyPage[TasksPage] = _LazyPage("Tasks")
    console: _LazyPage[ConsolePage] = _LazyPage("Console")
    activity: _LazyPage[ActivityPage] = _LazyPage("Activity")
    settings_page: _LazyPage[SettingsPage] = _LazyPage("Settings")
    automations: _LazyPage[AutomationsPage] = _LazyPage("Automations")
    sync_page: _LazyPage[SyncPage] = _LazyPage("Sync")
    integrations_page: _LazyPage[IntegrationsPage] = _LazyPage("Integrations")
    diagnostics: _LazyPage[DiagnosticsPage] = _LazyPage("Diagnostics")
    assistant: _LazyPage[AssistantPage] = _LazyPage("Assistant")

    def page(self, name: str) -> QWidget:
        """The page called ``name``, built first if it was not yet."""
        found = self._built.get(name)
        return found if found is not None else self._page(name, self._builders[name])

    @property
    def pages_pending(self) -> tuple[str, ...]:
        """The names of the pages not built yet."""
        return tuple(name for name in PAGES if name not in self._built)

    def build_pages_soon(self) -> None:
        """Build the pages not built yet, one per turn of the event loop."""
        if not self._building:
            self._building = True
            QTimer.singleShot(0, self._build_next_page)

    def _page(self, name: str, build: Callable[[], QWidget]) -> QWidget:
        widget = build()
        self._built[name] = widget
        index = PAGES.index(name)
        stand_in = self.pages.widget(index)
        assert stand_in is not None  # one widget per page from the start
        current = self.pages.currentIndex()
        self.pages.insertWidget(index, widget)
        self.pages.removeWidget(stand_in)
        stand_in.deleteLater()
        self.pages.setCurrentIndex(current)
        self.page_built.emit(name)
        return widget

    def _build_next_page(self) -> None:
        if not (shiboken6.isValid(self._host) and shiboken6.isValid(self.pages)):
            # The app, or this window, is being torn down: no page is wanted any more.
            return
        pending = self.pages_pending
        if pending:
            self.page(pending[0])
        if len(pending) > 1:
            QTimer.singleShot(0, self._build_next_page)

    # -- navigation -------------------------------------------------------------------------

    def show_page(self, index: int) -> None:
        """Switch to a page by its place in the rail."""
        self.rail.setCurrentRow(index)

    def _on_row(self, index: int) -> None:
        self.page(PAGES[index])
        self.pages.setCurrentIndex(index)

    def page_name(self) -> str:
        """The name of the page shown."""
        return PAGES[self.pages.currentIndex()]

    def show_run(self, run_id: str, command: str) -> None:
        """Open a run in the console and show it."""
        self.console.open_run(run_id, command)
        self.show_page(PAGES.index("Console"))

    def focus_quick_command(self) -> None:
        """Show Home with the cursor in its quick command box (empty states' "Run a command")."""
        self.show_page(PAGES.index("Home"))
        self.home.command.setFocus()

    def show_approvals(self) -> None:
        """Show the approvals inbox of the Automations page."""
        self.show_page(PAGES.index("Automations"))
        self.automations.show_approvals()

    def show_sync(self) -> None:
        """Show the Sync page (its status, server and conflicts)."""
        self.show_page(PAGES.index("Sync"))

    def show_integrations(self) -> None:
        """Show the Integrations page (connected accounts and the catalogue)."""
        self.show_page(PAGES.index("Integrations"))

    def show_assistant(self) -> None:
        """Show the Assistant page with the cursor in its request box (the tray's Ask…)."""
        self.show_page(PAGES.index("Assistant"))
        self.assistant.focus_input()

    def show_assistant_settings(self) -> None:
        """Show Settings with its Assistant box in view."""
        self.show_page(PAGES.index("Settings"))
        self.settings_page.show_assistant_settings()

    def bring_to_front(self) -> None:
        """Show, un-minimise and raise the window."""
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.show()
        self.raise_()
        self.activateWindow()

    # -- Qt events ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Note the first show in the log."""
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            logger.info("Window shown")

    def event(self, event: QEvent) -> bool:
        """Say when the window has first been painted (start-up is measured to it)."""
        handled = super().event(event)
        if event.type() == QEvent.Type.Paint and not self._painted_once:
            self._painted_once = True
            logger.info("Window painted")
            self.first_painted.emit()
            # The rail's icons are SVG: drawing them loads Qt's SVG renderer,
            # which the first paint need not wait for (the labels say it all).
            QTimer.singleShot(0, self, self._paint_rail_icons)
        return handled

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Redraw the rail's icons in the other ink when the desktop turns light or dark."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_painted_once", False):
            self._paint_rail_icons()

    def _paint_rail_icons(self) -> None:
        dark = current_theme(self).dark
        for index, name in enumerate(PAGES):
            item = self.rail.item(index)
            if item is not None:
                item.setIcon(page_icon(name.lower(), dark=dark))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closing hides (the app decides whether that means quit)."""
        event.ignore()
        self.close_requested.emit()


# Each page's module is imported when the page is built, not with the window.


def _tasks_page(host: AgentHost) -> QWidget:
    from atom_desktop.gui.pages.tasks import TasksPage  # noqa: PLC0415

    return TasksPage(host)


def _console_page(host: AgentHost, run_command: Callable[[], None]) -> QWidget:
    from atom_desktop.gui.pages.console import ConsolePage  # noqa: PLC0415

    page = ConsolePage(host)
    page.run_command_requested.connect(run_command)
    return page


def _activity_page(host: AgentHost, run_command: Callable[[], None]) -> QWidget:
    from atom_desktop.gui.pages.activity import ActivityPage  # noqa: PLC0415

    page = ActivityPage(host)
    page.run_command_requested.connect(run_command)
    return page


def _settings_page(
    host: AgentHost,
    preferences: Preferences,
    start_at_login: StartAtLogin,
    show_sync: Callable[[], None],
) -> QWidget:
    from atom_desktop.gui.pages.settings import SettingsPage  # noqa: PLC0415

    page = SettingsPage(host, preferences, start_at_login)
    page.open_sync.connect(show_sync)
    return page


def _automations_page(host: AgentHost, show_run: Callable[[str, str], None]) -> QWidget:
    from atom_desktop.gui.pages.automations import AutomationsPage  # noqa: PLC0415

    page = AutomationsPage(host)
    page.open_run.connect(show_run)
    return page


def _sync_page(host: AgentHost) -> QWidget:
    from atom_desktop.gui.pages.sync import SyncPage  # noqa: PLC0415

    return SyncPage(host)


def _integrations_page(host: AgentHost) -> QWidget:
    from atom_desktop.gui.pages.integrations import IntegrationsPage  # noqa: PLC0415

    return IntegrationsPage(host)


def _diagnostics_page(host: AgentHost) -> QWidget:
    from atom_desktop.gui.pages.diagnostics import DiagnosticsPage  # noqa: PLC0415

    return DiagnosticsPage(host)


def _assistant_page(
    host: AgentHost, show_run: Callable[[str, str], None], show_settings: Callable[[], None]
) -> QWidget:
    from atom_desktop.gui.pages.assistant import AssistantPage  # noqa: PLC0415

    page = AssistantPage(host)
    page.open_run.connect(show_run)
    page.open_settings.connect(show_settings)
    return page
