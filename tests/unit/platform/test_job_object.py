"""Job Objects: the structures' layout as the Windows SDK defines it, and the job's logic.

The layout and the logic are checked on every system: ctypes builds the
structures anywhere, and :class:`JobObject` takes its kernel32 calls as an
object, for which a recording stand-in is used here (the one part that
cannot run off Windows). The real calls run in the Windows-only tests at
the end, which the Windows CI job runs.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import time

import psutil
import pytest

from atom_desktop.platform import job_object
from atom_desktop.platform.containment import WINDOWS_RUN_FLAGS, JobContainment
from atom_desktop.platform.errors import PlatformNotSupportedError
from atom_desktop.platform.job_object import (
    IO_COUNTERS,
    JOBOBJECT_BASIC_LIMIT_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JobObject,
)

on_64_bit = pytest.mark.skipif(
    ctypes.sizeof(ctypes.c_void_p) != 8, reason="the sizes are those of 64-bit Windows"
)


@on_64_bit
@pytest.mark.parametrize(
    ("structure", "size"),
    [
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, 64),
        (IO_COUNTERS, 48),
        (JOBOBJECT_EXTENDED_LIMIT_INFORMATION, 144),
        (job_object.process_id_list_type(1), 16),
        (job_object.process_id_list_type(4), 40),
    ],
    ids=["basic-limits", "io-counters", "extended-limits", "pid-list-1", "pid-list-4"],
)
def test_structures_have_the_sdk_size(structure: type[ctypes.Structure], size: int) -> None:
    assert ctypes.sizeof(structure) == size


@on_64_bit
@pytest.mark.parametrize(
    ("structure", "field", "offset"),
    [
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "PerJobUserTimeLimit", 8),
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "LimitFlags", 16),
        # DWORD then SIZE_T: four bytes of padding, as MSVC lays it out.
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "MinimumWorkingSetSize", 24),
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "ActiveProcessLimit", 40),
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "Affinity", 48),
        (JOBOBJECT_BASIC_LIMIT_INFORMATION, "SchedulingClass", 60),
        (JOBOBJECT_EXTENDED_LIMIT_INFORMATION, "IoInfo", 64),
        (JOBOBJECT_EXTENDED_LIMIT_INFORMATION, "ProcessMemoryLimit", 112),
        (JOBOBJECT_EXTENDED_LIMIT_INFORMATION, "PeakJobMemoryUsed", 136),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_fields_are_where_the_sdk_puts_them(
    structure: type[ctypes.Structure], field: str, offset: int
) -> None:
    assert getattr(structure, field).offset == offset


def test_the_limits_kill_on_close_and_allow_no_breakaway() -> None:
    limits = job_object.kill_on_close_limits()
    flags = limits.BasicLimitInformation.LimitFlags
    assert flags == job_object.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert not flags & job_object.JOB_OBJECT_LIMIT_BREAKAWAY_OK
    assert not flags & job_object.JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK
    # Nothing else is limited: every other byte is zero.
    raw = bytearray(bytes(limits))
    flags_at = JOBOBJECT_BASIC_LIMIT_INFORMATION.LimitFlags.offset
    raw[flags_at : flags_at + 4] = b"\0\0\0\0"
    assert not any(raw)


def test_the_constants_are_the_sdk_values() -> None:
    assert job_object.JOB_OBJECT_EXTENDED_LIMIT_INFORMATION == 9
    assert job_object.JOB_OBJECT_BASIC_PROCESS_ID_LIST == 3
    assert job_object.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE == 0x2000
    assert job_object.JOB_OBJECT_LIMIT_BREAKAWAY_OK == 0x800
    assert job_object.JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK == 0x1000


class RecordingJobApi:
    """Stands in for kernel32 (Windows only): records each call, fails where told to."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail = fail
        self.limit_flags: list[int] = []
        self.members: list[int] = []

    def _call(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise OSError(f"{name} failed (Windows error 5)")

    def create(self) -> int:
        """A job handle."""
        self._call("create")
        return 0x1234

    def set_limits(self, job: int, limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION) -> None:
        """Records the limit flags."""
        self.limit_flags.append(int(limits.BasicLimitInformation.LimitFlags))
        self._call("set_limits", job, ctypes.sizeof(limits))

    def assign(self, job: int, pid: int) -> None:
        """Records the assignment."""
        self._call("assign", job, pid)
        self.members.append(pid)

    def terminate(self, job: int, exit_code: int) -> None:
        """Records the ending."""
        self._call("terminate", job, exit_code)

    def process_ids(self, job: int) -> list[int]:
        """What was assigned."""
        self._call("process_ids", job)
        return list(self.members)

    def close(self, handle: int) -> None:
        """Records the close."""
        self._call("close", handle)


def test_a_job_is_made_with_kill_on_close_and_used_through_its_handle() -> None:
    api = RecordingJobApi()
    job = JobObject(api)
    job.assign(42)
    assert job.process_ids() == [42]
    assert job.terminate()
    job.close()
    job.close()  # idempotent
    assert api.limit_flags == [job_object.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE]
    size = ctypes.sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION)
    assert api.calls == [
        ("create",),
        ("set_limits", 0x1234, size),
        ("assign", 0x1234, 42),
        ("process_ids", 0x1234),
        ("terminate", 0x1234, job_object.TERMINATED_EXIT_CODE),
        ("close", 0x1234),
    ]


def test_a_closed_job_never_uses_its_old_handle() -> None:
    api = RecordingJobApi()
    job = JobObject(api)
    job.close()
    assert job.closed
    assert not job.terminate()
    assert job.process_ids() == []
    with pytest.raises(OSError, match="closed"):
        job.assign(42)
    assert [call[0] for call in api.calls] == ["create", "set_limits", "close"]


def test_a_job_whose_limits_cannot_be_set_is_closed_at_once() -> None:
    api = RecordingJobApi(fail=frozenset({"set_limits"}))
    with pytest.raises(OSError, match="set_limits failed"):
        JobObject(api)
    assert [call[0] for call in api.calls] == ["create", "set_limits", "close"]


def test_failed_calls_on_a_live_job_say_so_without_raising() -> None:
    api = RecordingJobApi(fail=frozenset({"terminate", "process_ids"}))
    job = JobObject(api)
    assert not job.terminate()
    assert job.process_ids() == []
    job.close()


@pytest.mark.skipif(sys.platform == "win32", reason="off Windows only")
def test_the_real_calls_are_refused_off_windows() -> None:
    with pytest.raises(PlatformNotSupportedError, match="Windows only"):
        job_object.load_job_api()


# -- Windows only: the real kernel32 calls (the Windows CI job) --------------------------

windows_only = pytest.mark.skipif(sys.platform != "win32", reason="Job Objects are Windows'")

# A chain of three processes: each starts the next, then all wait.
_CHAIN = (
    "import subprocess, sys, time\n"
    "depth = int(sys.argv[1])\n"
    "if depth > 1:\n"
    "    subprocess.Popen([sys.executable, '-c', sys.argv[2], str(depth - 1), sys.argv[2]])\n"
    "time.sleep(120)\n"
)

# Holds a job with a chain in it, says the chain's first pid, then waits to be killed.
_HOLDER = (
    "import subprocess, sys, time\n"
    "from atom_desktop.platform.containment import WINDOWS_RUN_FLAGS, JobContainment\n"
    "chain = subprocess.Popen([sys.executable, '-c', sys.argv[1], '3', sys.argv[1]],"
    " creationflags=WINDOWS_RUN_FLAGS)\n"
    "container = JobContainment().contain(chain.pid)\n"
    "print(chain.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def _chain_below(pid: int, count: int, deadline_s: float = 30.0) -> list[psutil.Process]:
    """The process and its descendants, once there are at least ``count``."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        root = psutil.Process(pid)
        found = [root, *root.children(recursive=True)]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the chain below {pid} did not reach {count} processes")


def _all_end(procs: list[psutil.Process], deadline_s: float = 30.0) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=deadline_s)
    return not alive


@windows_only
def test_ending_the_job_ends_a_tree_of_three() -> None:
    chain = subprocess.Popen(
        [sys.executable, "-c", _CHAIN, "3", _CHAIN], creationflags=WINDOWS_RUN_FLAGS
    )
    container = JobContainment().contain(chain.pid)
    try:
        # A venv's python.exe may start the real one below it: at least three.
        procs = _chain_below(chain.pid, 3)
        assert {p.pid for p in procs} <= container.members()
        assert container.end()
        assert _all_end(procs)
        assert chain.wait(timeout=30) == job_object.TERMINATED_EXIT_CODE
        # Nothing is left in the job, not even a process that was being started.
        deadline = time.monotonic() + 30
        while container.members() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert container.members() == set()
    finally:
        container.close()
        if chain.poll() is None:
            chain.kill()
            chain.wait()


@windows_only
def test_a_tree_ends_when_the_process_holding_its_job_is_killed() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, _CHAIN], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        procs = _chain_below(int(holder.stdout.readline()), 3)
        holder.kill()  # TerminateProcess: the system closes its handles, the job's too
        holder.wait(timeout=30)
        assert _all_end(procs)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
