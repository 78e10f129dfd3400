"""The desktop app as a person gets it: a real X display, a real tray, a real keyring."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.agent_process import AgentProcess
from tests.support.ports import free_port
from tests.support.secret_service import SecretServiceSession
from tests.support.x_display import XDisplay, close_window, running_display

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.keyring]

MARKER_SECONDS = "31337"  # a run's `sleep` argument, to find it among all processes


@pytest.fixture
def display() -> Iterator[XDisplay]:
    with running_display() as running:
        yield running


def app_env(display: XDisplay, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    return {**env, **display.env(), "ATOM_PORT": str(port), "ATOM_LOG_LEVEL": "INFO"}


def launch_until_dialog(
    display: XDisplay, args: list[str], env: dict[str, str], title: str
) -> tuple[int, bytes]:
    """Launch the app, close the dialog called ``title`` it shows; its exit code and stderr."""
    launch = subprocess.Popen(
        [sys.executable, "-m", "atom_desktop", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (dialogs := display.visible_windows(title)):
            assert launch.poll() is None, "the launch ended without a dialog"
            assert time.monotonic() < deadline, "no dialog appeared"
            time.sleep(0.05)
        close_window(display, dialogs[0])
        _, stderr = launch.communicate(timeout=30)
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.wait()
    return launch.returncode, stderr


def sleepers() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline[:1] == ["sleep"] and MARKER_SECONDS in cmdline:
            found.append(proc)
    return found


def test_window_tray_second_launch_and_quit(
    display: XDisplay, secret_service: SecretServiceSession, tmp_path: Path
) -> None:
    port = free_port()
    args = ["--data-dir", str(tmp_path / "data"), "--config-dir", str(tmp_path / "config")]
    env = app_env(display, port)
    app = AgentProcess(args, env)
    try:
        app.wait_for("Tray icon shown")
        app.wait_for("agent running")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/v1/health").json()["key_storage"] == "keyring"
        windows = display.visible_windows("ATOM Desktop")
        assert len(windows) == 1

        # Closing the window (as a window manager does) hides it; the agent goes on.
        close_window(display, windows[0])
        app.wait_for("still running in the tray")
        assert display.visible_windows("ATOM Desktop") == []
        assert httpx.get(f"{base}/api/v1/health").status_code == 200

        # A second launch asks the first to show its window, and exits 0.
        second = subprocess.run(
            [sys.executable, "-m", "atom_desktop", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        app.wait_for("Window shown at the request of another launch")
        assert len(display.visible_windows("ATOM Desktop")) == 1

        # Quit with a run in flight: it is cancelled and nothing is left behind.
        owner = subprocess.run(
            [sys.executable, "-m", "atom_desktop", *args, "token", "show"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        started = httpx.post(
            f"{base}/api/v1/runs",
            json={"argv": ["sleep", MARKER_SECONDS]},
            headers={"Authorization": f"Bearer {owner}"},
        )
        assert started.status_code == 201
        run_url = f"{base}/api/v1/runs/{started.json()['id']}"
        headers = {"Authorization": f"Bearer {owner}"}
        while httpx.get(run_url, headers=headers).json()["status"] != "running":
            assert app.proc.poll() is None
        assert len(sleepers()) == 1
        assert app.stop(signal.SIGTERM) == 0
        assert sleepers() == []
    finally:
        if app.proc.poll() is None:
            app.stop(signal.SIGKILL)


def test_launching_the_window_over_a_headless_agent_says_so_in_a_dialog(
    display: XDisplay, tmp_path: Path
) -> None:
    port = free_port()
    args = ["--data-dir", str(tmp_path / "data"), "--config-dir", str(tmp_path / "config")]
    env = app_env(display, port)
    headless = AgentProcess([*args, "serve"], env)
    try:
        headless.wait_for("agent running")
        # A person who clicked a launcher sees why nothing else opens.
        returncode, stderr = launch_until_dialog(
            display, args, env, "ATOM Desktop is already running"
        )
        assert returncode == 1
        assert b"headless" in stderr
    finally:
        headless.stop(signal.SIGTERM)


def test_a_config_error_found_after_the_window_shows_is_said_in_a_dialog(
    display: XDisplay, tmp_path: Path
) -> None:
    # The window paints before the settings are loaded: their error comes after.
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("max_concurrent_runs = 0\n")
    args = ["--data-dir", str(tmp_path / "data"), "--config-dir", str(config_dir)]
    returncode, stderr = launch_until_dialog(
        display, args, app_env(display, free_port()), "ATOM Desktop cannot start"
    )
    assert returncode == 2
    assert b"Window painted" in stderr
    assert b"Invalid setting max_concurrent_runs = 0" in stderr
    assert str(config_dir / "config.toml").encode() in stderr
    assert not (tmp_path / "data" / "atom.db").exists()
