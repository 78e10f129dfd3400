"""``atom-desktop --uninstall`` as a person runs it: with the agent running, and without."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import psutil
import pytest

from tests.support.agent_process import AgentProcess, run_cli
from tests.support.ports import free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the XDG menu and autostart"),
]


def fresh_env(home: Path, port: int) -> dict[str, str]:
    """A fresh home (no keyring on it: the key goes to a file) and this port."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ATOM_", "XDG_", "DBUS_")) and k != "HOME"
    }
    return {**env, "HOME": str(home), "ATOM_PORT": str(port)}


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_uninstall_stops_the_agent_removes_the_entries_and_keeps_the_data(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = fresh_env(home, port)
    assert run_cli(env, "--install-desktop-entry").returncode == 0
    menu_entry = home / ".local/share/applications/atom-desktop.desktop"
    assert menu_entry.is_file()
    autostart = home / ".config/autostart/atom-desktop.desktop"
    autostart.parent.mkdir(parents=True)
    autostart.write_text("[Desktop Entry]\nType=Application\nName=ATOM Desktop\nExec=x\n")

    agent = AgentProcess(["serve"], env)
    try:
        agent.wait_for("agent running")
        assert run_cli(env, "tasks", "add", "keep me").returncode == 0
        pid = agent.proc.pid

        done = run_cli(env, "--uninstall")

        assert done.returncode == 0, done.stderr
        assert f"Stopped the running agent (PID {pid})" in done.stdout
        assert f"nothing listens on port {port} any more" in done.stdout
        # It stopped as Quit stops it: exit code 0, not a kill.
        assert agent.wait(timeout=30) == 0
    finally:
        agent.kill()
    assert not listening(port)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not menu_entry.exists()
    assert not autostart.exists()
    assert f"Turned off start at login ({autostart})" in done.stdout
    # The data stays, and the message says where and how to delete it.
    data = home / ".local/share/atom-desktop"
    assert (data / "atom.db").is_file()
    assert f"data: {data}" in done.stdout
    assert "rm -r" in done.stdout
    assert "pip uninstall atom-desktop" in done.stdout

    # Started again, the data is all there.
    again = AgentProcess(["serve"], env)
    try:
        again.wait_for("agent running")
        listed = run_cli(env, "tasks", "list")
        assert "keep me" in listed.stdout
        assert again.stop() == 0
    finally:
        again.kill()


def test_uninstall_with_nothing_running_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = run_cli(fresh_env(home, free_port()), "--uninstall")
    assert done.returncode == 0, done.stderr
    assert "No ATOM Desktop agent was running." in done.stdout
    assert "ATOM Desktop had no launcher entry to remove." in done.stdout


def test_uninstall_goes_alone(tmp_path: Path) -> None:
    done = run_cli(fresh_env(tmp_path, free_port()), "--uninstall", "serve")
    assert done.returncode == 2
    assert "go alone" in done.stderr
