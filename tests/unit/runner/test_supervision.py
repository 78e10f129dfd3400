"""How the runner starts a run's supervisor, from source and in a built app."""

from __future__ import annotations

import os
import sys

import pytest

from atom_desktop.runner import supervision


def test_from_source_the_interpreter_runs_the_supervisor_script_isolated() -> None:
    argv = supervision.supervised(["echo", "hi"], 2.5, 7)

    assert argv[:4] == [sys.executable, "-I", "-S", "-B"]
    assert argv[4].endswith("supervisor.py")
    assert argv[5:] == ["2.5", str(os.getpid()), "7", "--", "echo", "hi"]


def test_a_built_app_runs_the_supervisor_through_its_own_executable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What PyInstaller's bootloader sets; the supervisor script is then no file.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/atom-desktop/atom-desktop")

    argv = supervision.supervised(["echo", "hi"], 3.0, 9)

    assert argv[:2] == ["/opt/atom-desktop/atom-desktop", supervision.FROZEN_FLAG]
    assert argv[2:4] == ["3.0", str(os.getpid())]
    assert argv[-3:] == ["--", "echo", "hi"]
    assert supervision.supervision_available() == sys.platform.startswith("linux")
