"""First run with a keyring that must prompt: the window comes first, then the question.

A real X display (Xvfb), a real gnome-keyring on a private D-Bus whose default
keyring does not exist yet (as on a first login without a login keyring), and
the real prompter (gcr-prompter) on the display, typed into as a person would.
The window must be painted before anything waits on the keyring, ask where to
keep the key, and keep it where the answer says.
"""

from __future__ import annotations

import re
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from atom_desktop.gui.key_storage_question import TITLE
from atom_desktop.secrets.database_key import KEY_ENTRY
from atom_desktop.secrets.profile import keyring_service, profile_id
from tests.support.agent_process import AgentProcess
from tests.support.ports import free_port
from tests.support.secret_service import (
    SecretServiceSession,
    answer_prompt,
    running_secret_service,
)
from tests.support.x_display import XDisplay, running_display

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.keyring]

PAINTED = "Window painted"
ASKED = "Asking in the window where to keep the database key"
CHOSEN = "Key storage chosen in the window"


@pytest.fixture
def display() -> Iterator[XDisplay]:
    with running_display() as running:
        yield running


@pytest.fixture
def keyring_without_default(display: XDisplay, tmp_path: Path) -> Iterator[SecretServiceSession]:
    """gnome-keyring with no default keyring, and its prompter on the display."""
    with running_secret_service(
        tmp_path / "keyring-home", login_keyring=False, prompter_display=display.name
    ) as session:
        yield session


class FirstRun:
    """The app started on a new profile, with its address and folders."""

    def __init__(self, display: XDisplay, keyring: SecretServiceSession, tmp_path: Path) -> None:
        self.display = display
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.config_dir = tmp_path / "config"
        env = {k: v for k, v in keyring.env.items() if k != "QT_QPA_PLATFORM"}
        env.update(display.env(), ATOM_PORT=str(self.port), ATOM_LOG_LEVEL="INFO")
        args = ["--data-dir", str(self.data_dir), "--config-dir", str(self.config_dir)]
        self.app = AgentProcess(args, env)

    def wait_for_question(self, count: int = 1) -> int:
        """Wait until the question has been asked ``count`` times and shows; its window."""
        deadline = time.monotonic() + 30
        while self.app.output.count(ASKED) < count:
            self.app.wait_for(ASKED, timeout=max(0.1, deadline - time.monotonic()))
            if self.app.output.count(ASKED) < count:
                self.app.read_output(0.2)  # more output may hold the next ask
                assert time.monotonic() < deadline, self.app.output
        # The title is matched as a regular expression: its "?" must be taken as itself.
        while not (windows := self.display.visible_windows(re.escape(TITLE))):
            assert time.monotonic() < deadline, "the question did not show"
            time.sleep(0.05)
        return windows[0]

    def answer(self, window: int, key: str) -> None:
        """Press a button of the question by its shortcut (Alt+U keyring, Alt+K file).

        With no window manager, focus is given by hand; a key pressed before
        Qt has taken the focus in is lost, so it is pressed again until the
        app says it got the answer.
        """
        answered = self.app.output.count(CHOSEN)
        deadline = time.monotonic() + 30
        while self.app.output.count(CHOSEN) == answered:
            assert time.monotonic() < deadline, f"the answer did not arrive:\n{self.app.output}"
            self.display.run("xdotool", "windowfocus", "--sync", str(window))
            self.display.run("xdotool", "key", key)
            until = time.monotonic() + 2
            while self.app.output.count(CHOSEN) == answered and time.monotonic() < until:
                self.app.read_output(0.1)

    def health(self) -> dict[str, object]:
        body: dict[str, object] = httpx.get(
            f"http://127.0.0.1:{self.port}/api/v1/health", timeout=10
        ).json()
        return body


@pytest.fixture
def first_run(
    display: XDisplay, keyring_without_default: SecretServiceSession, tmp_path: Path
) -> Iterator[FirstRun]:
    run = FirstRun(display, keyring_without_default, tmp_path)
    try:
        yield run
    finally:
        if run.app.proc.poll() is None:
            run.app.stop(signal.SIGKILL)


def _painted_before_asked(output: str) -> None:
    assert PAINTED in output and ASKED in output, output
    assert output.index(PAINTED) < output.index(ASKED), output


def test_use_the_os_keyring_makes_the_keyring_and_keeps_the_key_there(
    first_run: FirstRun, keyring_without_default: SecretServiceSession
) -> None:
    app = first_run.app
    app.wait_for(PAINTED)
    question = first_run.wait_for_question()
    _painted_before_asked(app.output)
    assert first_run.display.visible_windows("ATOM Desktop"), "the main window is not shown"
    # Nothing has prompted yet: the keyring is still as it was.
    assert not keyring_without_default.has_default_collection()

    first_run.answer(question, "alt+u")
    answer_prompt(first_run.display.name, "first-run-password")
    app.wait_for("agent running")

    health = first_run.health()
    assert health["key_storage"] == "keyring"
    assert str(health["key_where"]).startswith("OS keyring (keyring.backends.SecretService")
    service = keyring_service(first_run.data_dir)
    stored = keyring_without_default.stored(service, KEY_ENTRY)
    assert stored is not None and len(stored) == 64
    assert not (first_run.config_dir / "keys").exists()
    assert app.stop(signal.SIGTERM) == 0


def test_a_cancelled_prompt_asks_again_and_keep_in_a_file_keeps_it_in_a_file(
    first_run: FirstRun, keyring_without_default: SecretServiceSession
) -> None:
    app = first_run.app
    app.wait_for(PAINTED)
    question = first_run.wait_for_question()
    _painted_before_asked(app.output)

    # The keyring's own prompt, cancelled: the window asks again, saying so.
    first_run.answer(question, "alt+u")
    answer_prompt(first_run.display.name, None)
    again = first_run.wait_for_question(count=2)
    assert "still not usable" in app.output.split(ASKED)[-1]

    first_run.answer(again, "alt+k")
    app.wait_for("agent running")
    health = first_run.health()
    assert health["key_storage"] == "file"
    assert "chosen at first start" in str(health["key_where"])
    key_file = first_run.config_dir / "keys" / f"{profile_id(first_run.data_dir)}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The log says the same as /health, with the warning.
    assert f"Key storage: key file {key_file}, not in an OS keyring: chosen at first" in app.output
    assert "Anyone who can read that file can read your data" in app.output
    # Nothing made a keyring behind the person's back.
    assert not keyring_without_default.has_default_collection()
    assert app.stop(signal.SIGTERM) == 0
