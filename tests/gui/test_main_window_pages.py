"""The window builds only Home before its first paint; the other pages follow.

Against a real agent (key file, no keyring) where one is needed; Qt offscreen.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import keyring.backends.fail
import pytest
import shiboken6
from PySide6.QtCore import QEvent, QObject
from pytestqt.qtbot import QtBot

from atom_desktop.automations.model import AutomationSpec
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES, MainWindow
from atom_desktop.gui.preferences import Preferences
from atom_desktop.store.task_types import TaskCreate
from tests.gui.conftest import WAIT_MS, linux_autostart

LATER_PAGES = PAGES[1:]


@pytest.fixture
def idle_host(settings: Settings, paths: AppPaths) -> AgentHost:
    """A host whose agent is never started."""
    return AgentHost(keyring_backend=keyring.backends.fail.Keyring())


@pytest.fixture
def window(qtbot: QtBot, idle_host: AgentHost, paths: AppPaths, tmp_path: Path) -> MainWindow:
    made = MainWindow(idle_host, Preferences.load(paths.config_dir), linux_autostart(tmp_path))
    qtbot.addWidget(made)
    return made


class Journal(QObject):
    """Records the window's first paint and each page built, in order."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.entries: list[str] = []
        window.installEventFilter(self)
        window.page_built.connect(self.entries.append)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and "paint" not in self.entries:
            self.entries.append("paint")
        return False


def test_only_home_is_built_before_the_first_paint_and_the_rest_follow(
    qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, profile = fresh_app
    window = app.window
    assert window.pages_pending == LATER_PAGES
    journal = Journal(window)
    app.profile_loaded.connect(lambda _: journal.entries.append("profile"))
    # Whether the agent was running as each page was built: read from the host
    # then, not from when a slot of this test heard of the start (signals from
    # the agent's thread arrive queued, and the order of their delivery is not
    # what is tested here).
    running_when_built: dict[str, bool] = {}
    window.page_built.connect(
        lambda name: running_when_built.__setitem__(name, app.host.is_running)
    )

    with qtbot.waitSignal(app.host.started, timeout=WAIT_MS):
        app.start(lambda: profile)

    qtbot.waitUntil(lambda: not window.pages_pending, timeout=WAIT_MS)
    # The profile (settings) loads after the first paint. Activity, which
    # lists the agent's events, is there before the agent starts; the other
    # pages are built once it has started, not while it starts.
    later = [name for name in LATER_PAGES if name != "Activity"]
    assert journal.entries == ["paint", "profile", "Activity", *later]
    assert running_when_built == {"Activity": False, **dict.fromkeys(later, True)}
    for index, name in enumerate(PAGES):
        assert window.pages.widget(index) is window.page(name)
    assert window.page_name() == "Home"


def test_a_page_asked_for_before_its_turn_is_built_at_once(window: MainWindow) -> None:
    window.show_page(PAGES.index("Tasks"))

    assert "Tasks" not in window.pages_pending
    assert window.pages.currentWidget() is window.tasks
    assert window.page_name() == "Tasks"
    # Reached through its attribute, a page is built too, and only once.
    console = window.console
    assert window.console is console
    assert window.pages_pending == PAGES[PAGES.index("Console") + 1 :]
    assert window.page_name() == "Tasks"


def test_a_hidden_window_builds_its_pages_once_the_agent_has_started(
    qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, profile = fresh_app
    with qtbot.waitSignal(app.host.started, timeout=WAIT_MS):
        app.host.start(profile)  # the agent alone: the window is never shown

    qtbot.waitUntil(lambda: not app.window.pages_pending, timeout=WAIT_MS)
    assert not app.window.isVisible()
    # The Automations page, built late, still feeds the tray's menu.
    spec = AutomationSpec.model_validate(
        {
            "name": "Fed to the tray",
            "triggers": [{"type": "cron", "expression": "0 4 * * *"}],
            "steps": [{"type": "notify", "title": "hello"}],
        }
    )
    app.host.call(lambda rt: jobs.create_automation(rt, spec))
    qtbot.waitUntil(
        lambda: [a.text() for a in app.tray.automations_menu.actions()] == ["Fed to the tray"],
        timeout=WAIT_MS,
    )


def test_a_page_built_after_the_agent_started_loads_its_data(
    qtbot: QtBot, desktop: DesktopApp, paths: AppPaths, tmp_path: Path
) -> None:
    made: list[object] = []
    desktop.host.call(lambda rt: jobs.create_task(rt, TaskCreate(title="built late")), made.append)
    qtbot.waitUntil(lambda: bool(made), timeout=WAIT_MS)
    # A second window on the running agent: its pages are all built after the start.
    late = MainWindow(desktop.host, Preferences.load(paths.config_dir), linux_autostart(tmp_path))
    qtbot.addWidget(late)

    table = late.tasks.table
    qtbot.waitUntil(
        lambda: any(
            (item := table.topLevelItem(i)) is not None and item.text(0) == "built late"
            for i in range(table.topLevelItemCount())
        ),
        timeout=WAIT_MS,
    )


class Receiver(QObject):
    """A page-like object that collects what the agent hands back."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[object] = []

    def take(self, value: object) -> None:
        self.setObjectName(str(value))  # as a page would: its widgets are C++ objects
        self.got.append(value)


def test_an_answer_for_a_deleted_receiver_is_dropped(qtbot: QtBot, desktop: DesktopApp) -> None:
    gone, alive = Receiver(), Receiver()
    release = threading.Event()

    async def held(_: object) -> str:
        await asyncio.to_thread(release.wait, WAIT_MS / 1000)
        return "late"

    desktop.host.call(held, gone.take)
    shiboken6.delete(gone)
    release.set()
    # Answers arrive in order: once the second is in, the first was handled.
    desktop.host.call(held, alive.take)
    qtbot.waitUntil(lambda: alive.got == ["late"], timeout=WAIT_MS)


def test_a_window_that_is_never_painted_still_starts_its_agent(
    qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, profile = fresh_app
    # As on a desktop that never exposes the window (a minimised start): its
    # paint events never reach it.
    eater = PaintEater()
    app.window.installEventFilter(eater)
    painted: list[bool] = []
    app.window.first_painted.connect(lambda: painted.append(True))

    with qtbot.waitSignal(app.host.started, timeout=WAIT_MS):
        app.start(lambda: profile)

    assert painted == []
    assert eater.eaten > 0  # paints were due, and none arrived
    assert app.window.isVisible()


def test_a_window_whose_agent_cannot_start_still_builds_its_pages(
    qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, profile = fresh_app
    # The key must be in an OS keyring, and there is none: the agent fails.
    strict = Profile(
        profile.settings.model_copy(update={"key_storage": "keyring"}),
        profile.paths,
        profile.redactor,
    )
    with qtbot.waitSignal(app.host.failed, timeout=WAIT_MS) as failure:
        app.start(lambda: strict)

    assert "keyring" in str(failure.args)
    # Settings may be what fixes it: every page is there without asking.
    qtbot.waitUntil(lambda: not app.window.pages_pending, timeout=WAIT_MS)


class PaintEater(QObject):
    """Keeps every paint event from the window it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.eaten = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint:
            self.eaten += 1
            return True
        return False
