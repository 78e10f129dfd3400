"""The desktop app shows a start refusal of its agent in a dialog over the window.

A real agent (key file, no keyring) is started once, its database is deleted,
and the app is started on that profile: the refusal to make a new, empty
database must reach the person, not only the log. Qt runs offscreen.
"""

from __future__ import annotations

import keyring.backends.fail
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from atom_desktop.agent_thread import AgentThread
from atom_desktop.config.profile import Profile
from atom_desktop.gui.app import DesktopApp
from atom_desktop.runtime import Runtime
from tests.gui.conftest import WAIT_MS


def _refusals(app: DesktopApp) -> list[QMessageBox]:
    return [box for box in app.window.findChildren(QMessageBox) if box.isVisible()]


def test_a_missing_database_is_refused_in_a_dialog_over_the_window(
    qtbot: QtBot, fresh_app: tuple[DesktopApp, Profile]
) -> None:
    app, profile = fresh_app
    first = Runtime(
        profile.settings, paths=profile.paths, keyring_backend=keyring.backends.fail.Keyring()
    )
    host = AgentThread(lambda: first)
    host.start_and_wait()
    host.stop()
    profile.paths.database.unlink()

    with qtbot.waitSignal(app.host.failed, timeout=WAIT_MS):
        app.start(lambda: profile)
    qtbot.waitUntil(lambda: bool(_refusals(app)), timeout=WAIT_MS)

    (box,) = _refusals(app)
    try:
        assert box.parent() is app.window
        assert str(profile.paths.database) in box.text()
        assert "is missing" in box.text()
        assert "--reset-data" in box.text()
        assert not profile.paths.database.exists()
    finally:
        box.close()
