"""Ending a process tree through psutil alone, as on a system without process groups."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from atom_desktop.platform import process_control
from atom_desktop.platform.process_control import Ending
from atom_desktop.runner import process_tree

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the tree is built with sh")

# A shell with two children, one of which (a subshell) has a child of its own.
_TREE = "sleep 60 & (sleep 60; :) & wait"


def _start_tree() -> tuple[subprocess.Popen[bytes], set[process_tree.Identity]]:
    shell = subprocess.Popen(["sh", "-c", _TREE], start_new_session=True)
    deadline = time.monotonic() + 10
    idents: set[process_tree.Identity] = set()
    while time.monotonic() < deadline:
        idents = process_tree.descendants(shell.pid)
        if len(idents) >= 4:  # the shell, the sleep, the subshell and its sleep
            break
        time.sleep(0.01)
    assert len(idents) >= 4, idents
    return shell, idents


def _leftovers(idents: set[process_tree.Identity]) -> list[psutil.Process]:
    return [proc for ident in idents if (proc := process_tree.alive(ident)) is not None]


def _cleanup(shell: subprocess.Popen[bytes], idents: set[process_tree.Identity]) -> None:
    for proc in _leftovers(idents):
        proc.kill()
    shell.kill()
    shell.wait()


def test_the_tree_ends_without_a_group_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[int, Ending]] = []

    def no_group(group: int, how: Ending) -> bool:
        sent.append((group, how))
        return process_control.no_signal_group(group, how)

    # As on Windows: the group cannot be signalled, so each process is ended by psutil.
    monkeypatch.setattr(process_control, "signal_group", no_group)
    shell, idents = _start_tree()
    try:
        process_tree.kill_blocking(idents, shell.pid, grace_s=5.0)
        shell.wait(timeout=10)
        # The shell is a zombie until waited for; alive() never counts zombies.
        assert _leftovers(idents) == []
        assert sent and all(group == shell.pid for group, _ in sent)
    finally:
        _cleanup(shell, idents)


def test_a_process_that_ignores_terminate_is_killed_after_the_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(process_control, "signal_group", process_control.no_signal_group)
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print(flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # SIGTERM is ignored from here on
    idents = process_tree.descendants(stubborn.pid)
    try:
        started = time.monotonic()
        process_tree.kill_blocking(idents, stubborn.pid, grace_s=0.3)
        assert stubborn.wait(timeout=10) == -9
        assert time.monotonic() - started >= 0.3
    finally:
        stubborn.kill()
        stubborn.wait()
        stubborn.stdout.close()


def test_end_process_terminates_or_kills_one_process() -> None:
    for how, code in ((Ending.TERMINATE, -15), (Ending.KILL, -9)):
        child = subprocess.Popen(["sleep", "60"])
        try:
            process_control.end_process(psutil.Process(child.pid), how)
            assert child.wait(timeout=10) == code
        finally:
            child.kill()
            child.wait()


def test_the_posix_group_signal_reaches_the_group_and_says_when_it_is_gone() -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert process_control.posix_signal_group(child.pid, Ending.KILL)
        assert child.wait(timeout=10) == -9
        assert not process_control.posix_signal_group(child.pid, Ending.KILL)
    finally:
        child.kill()
        child.wait()


def test_sessions_are_known_on_posix_and_not_for_a_gone_process() -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert process_control.session_of(child.pid) == child.pid
    finally:
        child.kill()
        child.wait()
    assert process_control.session_of(child.pid) is None
