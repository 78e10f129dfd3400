"""How runs are held: sessions on POSIX, a Job Object per run on Windows, chosen in one place.

The Windows path's order (job made, process assigned, only then resumed)
and its fallbacks are checked here with a stand-in for kernel32's job calls
(tests/unit/platform/test_job_object.py says why); resuming a suspended
process is real (SIGSTOP/SIGCONT here, NtResumeProcess on Windows).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import psutil
import pytest

from atom_desktop.platform import containment
from atom_desktop.platform.containment import (
    JobContainer,
    JobContainment,
    NoContainer,
    SessionContainment,
)
from atom_desktop.platform.job_object import JobApi
from tests.unit.platform.test_job_object import RecordingJobApi


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux", SessionContainment), ("darwin", SessionContainment), ("win32", JobContainment)],
    ids=["linux", "darwin", "win32"],
)
def test_the_containment_is_chosen_by_the_system(platform: str, expected: type) -> None:
    assert isinstance(containment.choose_containment(platform), expected)


def test_posix_runs_start_in_a_session_of_their_own() -> None:
    chosen = SessionContainment()
    assert chosen.spawn_options() == {"start_new_session": True}
    held = chosen.contain(12345)
    assert isinstance(held, NoContainer)
    assert not held.end()
    assert held.members() == set()


def test_windows_runs_start_suspended_in_a_group_of_their_own_and_never_break_away() -> None:
    options = JobContainment().spawn_options()
    assert set(options) == {"creationflags"}
    flags = options["creationflags"]
    assert flags & containment.CREATE_SUSPENDED
    assert flags & containment.CREATE_NEW_PROCESS_GROUP
    assert flags & containment.CREATE_NO_WINDOW
    assert not flags & containment.CREATE_BREAKAWAY_FROM_JOB


def test_the_flags_are_the_sdk_values() -> None:
    assert containment.CREATE_SUSPENDED == 0x4
    assert containment.CREATE_NEW_PROCESS_GROUP == 0x200
    assert containment.CREATE_BREAKAWAY_FROM_JOB == 0x0100_0000
    assert containment.CREATE_NO_WINDOW == 0x0800_0000
    if sys.platform == "win32":  # subprocess names them on Windows only
        assert containment.CREATE_NEW_PROCESS_GROUP == subprocess.CREATE_NEW_PROCESS_GROUP
        assert containment.CREATE_NO_WINDOW == subprocess.CREATE_NO_WINDOW
        assert containment.CREATE_BREAKAWAY_FROM_JOB == subprocess.CREATE_BREAKAWAY_FROM_JOB


class Steps:
    """Records the order of the job calls and the resume."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.api = RecordingJobApi(fail - {"resume", "load"})
        self.fail = fail
        self.resumed: list[int] = []

    def load(self) -> JobApi:
        """The stand-in job calls, or no job calls at all."""
        if "load" in self.fail:
            raise OSError("no job objects here")
        return self.api

    def resume(self, pid: int) -> None:
        """Records the resume (after the job calls made so far)."""
        self.api.calls.append(("resume", pid))
        if "resume" in self.fail:
            raise OSError("could not resume")
        self.resumed.append(pid)

    def names(self) -> list[object]:
        """The calls in order, by name."""
        return [call[0] for call in self.api.calls]


def test_a_run_enters_its_job_before_it_runs() -> None:
    steps = Steps()
    held = JobContainment(steps.load, steps.resume).contain(42)
    assert isinstance(held, JobContainer)
    assert steps.names() == ["create", "set_limits", "assign", "resume"]
    assert held.members() == {42}
    assert held.end()
    held.close()
    assert steps.names()[-2:] == ["terminate", "close"]


def test_a_run_that_cannot_enter_a_job_still_runs_held_by_psutil_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = Steps(fail=frozenset({"assign"}))
    with caplog.at_level(logging.WARNING, logger=containment.__name__):
        held = JobContainment(steps.load, steps.resume).contain(42)
    assert isinstance(held, NoContainer)
    # The unused job is closed before the run goes on.
    assert steps.names() == ["create", "set_limits", "assign", "close", "resume"]
    assert steps.resumed == [42]
    assert "could not enter its job" in caplog.text


def test_a_run_without_job_objects_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    steps = Steps(fail=frozenset({"load"}))
    with caplog.at_level(logging.WARNING, logger=containment.__name__):
        held = JobContainment(steps.load, steps.resume).contain(42)
    assert isinstance(held, NoContainer)
    assert steps.resumed == [42]
    assert "No job object" in caplog.text


def test_a_run_that_cannot_be_resumed_is_refused_and_its_job_closed() -> None:
    steps = Steps(fail=frozenset({"resume"}))
    with pytest.raises(OSError, match="could not resume"):
        JobContainment(steps.load, steps.resume).contain(42)
    assert steps.names() == ["create", "set_limits", "assign", "resume", "close"]


@pytest.mark.skipif(sys.platform == "win32", reason="suspends with SIGSTOP")
def test_a_suspended_process_is_resumed_for_real() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        target = psutil.Process(proc.pid)
        target.suspend()
        deadline = time.monotonic() + 10
        while target.status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert target.status() == psutil.STATUS_STOPPED
        containment.resume_process(proc.pid)
        deadline = time.monotonic() + 10
        while target.status() == psutil.STATUS_STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
        assert target.status() != psutil.STATUS_STOPPED
    finally:
        proc.kill()
        proc.wait()


def test_resuming_a_process_that_is_gone_is_an_oserror() -> None:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    with pytest.raises(OSError, match="could not resume"):
        containment.resume_process(proc.pid)
