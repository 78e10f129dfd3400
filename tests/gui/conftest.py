"""Qt tests run offscreen (unless a platform is chosen); the desktop app fixture."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import keyring.backends.fail
import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.gui.app import DesktopApp
from atom_desktop.platform.autostart import AutostartEntry
from tests.support.secret_service import SecretServiceSession

# Before any QApplication exists (pytest-qt makes it in its ``qapp`` fixture,
# after conftest files are imported); without a display Qt would abort.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def _qt_garbage_on_the_qt_thread() -> Iterator[None]:
    """Windows a test made go with it, on the Qt thread.

    A test's app is a web of Python objects around its window, some in
    reference cycles (the app, its host and window, signals' slots), and the
    window is deleted later (``deleteLater``). Left to the collector, such a
    cycle is freed on whichever thread next allocates - often one of the next
    test's agent threads - and freeing a window's wrapper there deletes a Qt
    object on the wrong thread (a worker once crashed in the collector this
    way). So after each test: the deferred deletes now, then a collection, on
    this thread. (The app itself makes one window for its whole life.)
    """
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def linux_autostart(tmp_path: Path) -> AutostartEntry:
    """The Linux start-at-login entry, written under ``tmp_path``."""
    return AutostartEntry(
        platform="linux",
        home=tmp_path / "home",
        env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        command=["atom-desktop", "--background"],
    )


@pytest.fixture
def fresh_app(
    qtbot: QtBot, settings: Settings, paths: AppPaths, tmp_path: Path
) -> Iterator[tuple[DesktopApp, Profile]]:
    """The desktop app on a real agent (key file, no keyring), not started yet, and its
    profile; the agent is stopped after the test if it was started."""
    app = DesktopApp(
        paths.config_dir, linux_autostart(tmp_path), keyring_backend=keyring.backends.fail.Keyring()
    )
    yield app, Profile(settings, paths, Redactor())
    stop_app(qtbot, app)


def stop_app(qtbot: QtBot, app: DesktopApp) -> None:
    """Stop the app's agent if it runs, and let its window go."""
    if app.host.thread_alive:
        with qtbot.waitSignal(app.host.stopped, timeout=WAIT_MS):
            app.host.request_stop()
    app.host.stop()
    app.window.deleteLater()


@pytest.fixture
def desktop(qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]) -> DesktopApp:
    """The desktop app on a real agent, started (and stopped after the test)."""
    app, profile = fresh_app
    with qtbot.waitSignal(app.host.started, timeout=WAIT_MS):
        app.start(lambda: profile)
    return app


@pytest.fixture
def keyring_desktop(
    qtbot: QtBot,
    settings: Settings,
    paths: AppPaths,
    tmp_path: Path,
    secret_service: SecretServiceSession,
) -> Iterator[DesktopApp]:
    """The desktop app on a real agent whose keyring is a real Secret Service, started."""
    app = DesktopApp(
        paths.config_dir, linux_autostart(tmp_path), keyring_backend=secret_service.backend()
    )
    try:
        with qtbot.waitSignal(app.host.started, timeout=WAIT_MS):
            app.start(lambda: Profile(settings, paths, Redactor()))
        yield app
    finally:
        stop_app(qtbot, app)
