"""The runner holds each run through the system's containment (Windows: a Job Object).

Windows' job calls cannot run here, so a stand-in with the same contract
takes the job's place: the run starts as on POSIX, its "job" holds the
run's process tree (psutil), ending it kills them all, and every call is
recorded. What is checked is the runner's side: each run is contained once
as it starts, ended through its container on cancel, and let go at its end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.platform import process_control
from atom_desktop.platform.containment import SessionContainment
from atom_desktop.runner import service as runner_service
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.api.test_runs import (
    PY,
    _no_sleepers_left,
    _wait_for_process,
    start,
    wait_done,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the runs are POSIX commands")


class TreeContainer:
    """A job's stand-in: holds the tree below ``pid``; ending it kills the tree."""

    def __init__(self, pid: int, calls: list[tuple[str, int]]) -> None:
        self._pid = pid
        self._calls = calls

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self._pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def end(self) -> bool:
        """Kill the whole tree at once, as TerminateJobObject does."""
        self._calls.append(("end", self._pid))
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):  # gone already
                proc.kill()
        return True

    def members(self) -> set[int]:
        """The tree's pids."""
        return {proc.pid for proc in self._tree()}

    def close(self) -> None:
        """Recorded only: the runner has ended the run by then."""
        self._calls.append(("close", self._pid))


class RecordingContainment(SessionContainment):
    """Starts runs as on POSIX and holds each in a :class:`TreeContainer`."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.refuse = refuse

    def contain(self, pid: int) -> Any:
        """Record, then hold (or refuse, as a process that cannot be resumed)."""
        self.calls.append(("contain", pid))
        if self.refuse:
            raise OSError("could not resume it")
        return TreeContainer(pid, self.calls)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> RecordingContainment:
    chosen = RecordingContainment()
    monkeypatch.setattr(runner_service, "choose_containment", lambda: chosen)
    return chosen


@pytest.fixture
def contained_agent(settings: Settings, recording: RecordingContainment) -> Iterator[LiveAgent]:
    with live_agent(settings) as agent:
        yield agent


def _sleep(tmp_path: Path) -> str:
    # A duration no other process on the machine has.
    return f"sleep 31{os.getpid() % 1000}{len(tmp_path.name) % 10}"


def test_a_cancelled_run_is_ended_through_its_container_and_let_go(
    contained_agent: LiveAgent, recording: RecordingContainment, tmp_path: Path
) -> None:
    sleeper = _sleep(tmp_path)
    with contained_agent.client() as client:
        run_id = start(client, shell=sleeper)["id"]
        _wait_for_process(sleeper)
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        assert wait_done(client, run_id)["status"] == "cancelled"
    assert _no_sleepers_left(sleeper)
    names = [name for name, _ in recording.calls]
    assert names[0] == "contain"
    assert "end" in names
    assert names[-1] == "close"
    assert names.count("close") == 1
    assert {pid for _, pid in recording.calls} == {recording.calls[0][1]}


def test_a_run_that_ends_by_itself_is_only_let_go(
    contained_agent: LiveAgent, recording: RecordingContainment
) -> None:
    with contained_agent.client() as client:
        record = wait_done(client, start(client, argv=["true"])["id"])
    assert record["status"] == "succeeded"
    assert [name for name, _ in recording.calls] == ["contain", "close"]


def test_a_run_that_cannot_be_contained_fails_saying_why(
    contained_agent: LiveAgent, recording: RecordingContainment
) -> None:
    recording.refuse = True
    with contained_agent.client() as client:
        record = wait_done(client, start(client, argv=["true"])["id"])
    assert record["status"] == "failed"
    assert record["error"] == "could not start 'true': could not resume it"
    assert [name for name, _ in recording.calls] == ["contain"]


_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


@contextlib.contextmanager
def not_a_subreaper() -> Iterator[None]:
    """This process adopts no orphans while inside (Linux), as an agent on macOS.

    The agent under test runs in this process, and an earlier test's agent
    may have made it a child subreaper for good: an orphaned daemon would
    then come back to it, where the runner finds it without the search these
    tests are about.
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    flag = ctypes.c_int()
    libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    check = ctypes.c_int(-1)
    libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(check), 0, 0, 0)
    assert check.value == 0, "could not stop being a child subreaper"
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, flag.value, 0, 0, 0)


@pytest.fixture
def agent_without_subreaper(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveAgent]:
    """An agent as on macOS: no supervisor, and the agent adopts no orphans."""
    monkeypatch.setattr(runner_service, "supervision_available", lambda: False)
    monkeypatch.setattr(process_control, "become_subreaper", lambda: False)
    with not_a_subreaper(), live_agent(settings) as agent:
        yield agent


def _end_sleepers(marker: str) -> None:
    """Kill what a failed test left running under ``marker``."""
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            with contextlib.suppress(psutil.Error):
                proc.kill()


@pytest.mark.parametrize("ending", ["cancel", "normal end"], ids=["cancel", "normal-end"])
def test_without_a_subreaper_a_process_that_left_the_session_ends_with_the_run(
    agent_without_subreaper: LiveAgent, tmp_path: Path, ending: str
) -> None:
    escaped = _sleep(tmp_path)
    main = escaped.replace("sleep 31", "sleep 32")
    # A daemon's start (macOS has no setsid command): fork, the parent exits
    # at once, the child takes a session of its own, so its new parent is
    # init (launchd on macOS); it keeps the run's marker.
    detach = (
        "import os, sys; os.fork() and os._exit(0); os.setsid(); os.execvp('sleep', sys.argv[1:])"
    )
    line = f"{shlex.quote(PY)} -c {shlex.quote(detach)} {escaped}; " + (
        main if ending == "cancel" else "true"
    )
    try:
        with agent_without_subreaper.client() as client:
            run_id = start(client, shell=line)["id"]
            _wait_for_process(escaped)
            if ending == "cancel":
                _wait_for_process(main)
                assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
            expected = {"cancel": "cancelled", "normal end": "succeeded"}
            assert wait_done(client, run_id)["status"] == expected[ending]
        assert _no_sleepers_left(escaped), f"{escaped} outlived its run"
        assert _no_sleepers_left(main)
    finally:
        _end_sleepers(escaped)
        _end_sleepers(main)
