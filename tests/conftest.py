"""Fixtures shared by every test: isolated profiles, a real keyring, hygiene."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from tests.support.secret_service import SecretServiceSession, running_secret_service


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's ATOM_* settings or writes into their home."""
    for name in list(os.environ):
        if name.startswith("ATOM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(autouse=True)
def _no_leftovers() -> Iterator[None]:
    """Fail a test that leaves threads or child processes behind."""
    threads_before = set(threading.enumerate())
    me = psutil.Process()
    children_before = {p.pid for p in me.children(recursive=True)}
    yield
    # Threads that are finishing get a moment to end; anything alive after
    # the deadline is a leak.
    deadline = time.monotonic() + 5
    while True:
        extra_threads = [
            t for t in threading.enumerate() if t not in threads_before and t.is_alive()
        ]
        extra_children = [
            p for p in me.children(recursive=True) if p.pid not in children_before and _alive(p)
        ]
        if not (extra_threads or extra_children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra_threads, f"test left threads running: {extra_threads}"
    assert not extra_children, f"test left child processes: {extra_children}"


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def secret_service(tmp_path: Path) -> Iterator[SecretServiceSession]:
    """A fresh, unlocked gnome-keyring on a private D-Bus session."""
    with running_secret_service(tmp_path / "keyring-home") as session:
        yield session


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    """A profile of its own: data and config directories in the test's tmp dir."""
    result = AppPaths.resolve(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    result.ensure()
    return result


@pytest.fixture
def settings(paths: AppPaths) -> Settings:
    """Default settings pointing at the test's profile."""
    return Settings(data_dir=paths.data_dir, config_dir=paths.config_dir, port=0)
