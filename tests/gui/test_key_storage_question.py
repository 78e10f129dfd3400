"""The key storage question in the window, on a real agent and a real gnome-keyring.

The keyring has no default keyring and no prompter (every prompt is dismissed
at once), so these tests need no display: the window is offscreen, and the
question's buttons are pressed as a person would. The prompter itself, on a
real X display, is in tests/e2e/test_first_run_keyring.py.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.gui.app import DesktopApp
from atom_desktop.secrets.database_key import CHOSEN_FILE
from tests.gui.a11y_walk import unnamed
from tests.gui.conftest import WAIT_MS, linux_autostart
from tests.support.secret_service import SecretServiceSession, running_secret_service

pytestmark = pytest.mark.keyring


@pytest.fixture
def fresh_keyring(tmp_path: Path) -> Iterator[SecretServiceSession]:
    with running_secret_service(tmp_path / "keyring-home", login_keyring=False) as session:
        yield session


@pytest.fixture
def app(
    qtbot: QtBot,
    fresh_keyring: SecretServiceSession,
    settings: Settings,
    paths: AppPaths,
    tmp_path: Path,
) -> Iterator[tuple[DesktopApp, list[str]]]:
    """The app on that keyring, started; with a journal of paint, question and start."""
    desktop = DesktopApp(
        paths.config_dir, linux_autostart(tmp_path), keyring_backend=fresh_keyring.backend()
    )
    journal: list[str] = []
    desktop.window.first_painted.connect(lambda: journal.append("painted"))
    desktop.host.key_storage_asked.connect(lambda _request: journal.append("asked"))
    desktop.host.started.connect(lambda: journal.append("started"))
    desktop.start(lambda: Profile(settings, paths, Redactor()))
    yield desktop, journal
    # Still asking (or already stopped): stop() ends the question and joins the thread.
    if desktop.host.is_running:
        with qtbot.waitSignal(desktop.host.stopped, timeout=WAIT_MS):
            desktop.host.request_stop()
    desktop.host.stop()
    desktop.window.deleteLater()


def test_the_window_paints_first_and_keep_in_a_file_starts_with_a_key_file(
    qtbot: QtBot, app: tuple[DesktopApp, list[str]], fresh_keyring: SecretServiceSession
) -> None:
    desktop, journal = app
    qtbot.waitUntil(lambda: "asked" in journal, timeout=WAIT_MS)
    assert journal == ["painted", "asked"]
    dialog = desktop.window.key_question.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.use_file.isHidden() and "Anyone who can read" in dialog.file_warning.text()
    assert unnamed(dialog) == []  # a screen reader names every control

    with qtbot.waitSignal(desktop.host.started, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.use_file, Qt.MouseButton.LeftButton)
    assert journal == ["painted", "asked", "started"]
    runtime = desktop.host.runtime
    assert runtime is not None and runtime.store.key is not None
    assert (runtime.store.key.storage, runtime.store.key.reason) == ("file", CHOSEN_FILE)
    assert not fresh_keyring.has_default_collection()


# keyring's SecretService backend raises InitError without closing the D-Bus
# connection it opened; the ResourceWarning is theirs, collected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_dismissed_keyring_prompt_brings_the_question_back(
    qtbot: QtBot, app: tuple[DesktopApp, list[str]]
) -> None:
    desktop, journal = app
    qtbot.waitUntil(lambda: "asked" in journal, timeout=WAIT_MS)
    first = desktop.window.key_question.dialog
    assert first is not None
    qtbot.mouseClick(first.use_keyring, Qt.MouseButton.LeftButton)
    # No prompter here: the keyring's prompt is dismissed, and the window asks again.
    qtbot.waitUntil(lambda: journal.count("asked") == 2, timeout=WAIT_MS)
    again = desktop.window.key_question.dialog
    assert again is not None and again is not first
    assert "still not usable" in again.text.text()
    with qtbot.waitSignal(desktop.host.started, timeout=WAIT_MS):
        qtbot.mouseClick(again.use_file, Qt.MouseButton.LeftButton)
    gc.collect()


def test_quit_while_the_question_is_open_stops_cleanly(
    qtbot: QtBot, app: tuple[DesktopApp, list[str]]
) -> None:
    desktop, journal = app
    qtbot.waitUntil(lambda: "asked" in journal, timeout=WAIT_MS)
    failures: list[str] = []
    desktop.host.failed.connect(failures.append)
    with qtbot.waitSignal(desktop.host.stopped, timeout=WAIT_MS):
        desktop.host.request_stop()
    assert failures == []
    assert "started" not in journal


def test_home_says_the_question_waits_and_brings_it_back(
    qtbot: QtBot, app: tuple[DesktopApp, list[str]]
) -> None:
    desktop, journal = app
    qtbot.waitUntil(lambda: "asked" in journal, timeout=WAIT_MS)
    home = desktop.window.home
    dialog = desktop.window.key_question.dialog
    assert dialog is not None
    assert home.key_label.text() == (
        "Waiting for your answer — Use the OS keyring / Keep the key in a file"
    )
    assert not home.key_question_button.isHidden()
    assert home.key_question_button.accessibleName()

    # Put away (as behind another window); Home's button brings it back.
    dialog.hide()
    qtbot.mouseClick(home.key_question_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    assert desktop.window.key_question.dialog is dialog

    with qtbot.waitSignal(desktop.host.started, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.use_file, Qt.MouseButton.LeftButton)
    assert home.key_question_button.isHidden()
    # Once the agent runs, the line says where the key is.
    qtbot.waitUntil(lambda: "file" in home.key_label.text().lower(), timeout=WAIT_MS)
    assert "Waiting" not in home.key_label.text()
