"""Windows Job Objects: one kernel object that holds a run's whole process tree.

A process started inside a job stays in it, and so does everything it
starts: Windows has no way out (breakaway) unless the job allows one, and
ours never does (neither ``JOB_OBJECT_LIMIT_BREAKAWAY_OK`` nor
``JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK``). So:

- ``TerminateJobObject`` ends every process of the run at once, including
  ones whose parent has exited (Windows does not re-parent them, so no
  parent-child walk finds them);
- ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`` ends them all when the last handle
  to the job closes. The agent holds the only one (created not inheritable,
  so no child holds a copy): when the agent dies, even killed outright, the
  system closes it and the run's processes end with it.

The structures are the Windows SDK's (``winnt.h``), written with ctypes
types of the same size on every system, so their layout is checked on
Linux too (tests/unit/platform/test_job_object.py). The calls themselves
exist on Windows only: :class:`Kernel32JobApi` loads them there, and
:class:`JobObject` takes any :class:`JobApi`, so its logic is tested
everywhere with a stand-in.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from typing import Protocol

from atom_desktop.platform.errors import PlatformNotSupportedError

# winnt.h: JOBOBJECTINFOCLASS values.
JOB_OBJECT_BASIC_PROCESS_ID_LIST = 3
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
# winnt.h: LimitFlags bits.
JOB_OBJECT_LIMIT_BREAKAWAY_OK = 0x0000_0800
JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK = 0x0000_1000
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x0000_2000
# winnt.h: process access rights AssignProcessToJobObject needs.
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
# winerror.h: the process id list did not fit.
ERROR_MORE_DATA = 234
# The exit code of every process a run's job ends (what Task Manager's
# "End task" gives too); the run itself is recorded as cancelled or timed out.
TERMINATED_EXIT_CODE = 1


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):  # noqa: N801 - the SDK's name
    """winnt.h ``JOBOBJECT_BASIC_LIMIT_INFORMATION`` (64 bytes on 64-bit Windows)."""

    _fields_ = (
        ("PerProcessUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("PerJobUserTimeLimit", ctypes.c_int64),  # LARGE_INTEGER
        ("LimitFlags", ctypes.c_uint32),  # DWORD
        ("MinimumWorkingSetSize", ctypes.c_size_t),  # SIZE_T
        ("MaximumWorkingSetSize", ctypes.c_size_t),  # SIZE_T
        ("ActiveProcessLimit", ctypes.c_uint32),  # DWORD
        ("Affinity", ctypes.c_size_t),  # ULONG_PTR
        ("PriorityClass", ctypes.c_uint32),  # DWORD
        ("SchedulingClass", ctypes.c_uint32),  # DWORD
    )


class IO_COUNTERS(ctypes.Structure):  # noqa: N801 - the SDK's name
    """winnt.h ``IO_COUNTERS`` (48 bytes)."""

    _fields_ = (
        ("ReadOperationCount", ctypes.c_uint64),  # ULONGLONG
        ("WriteOperationCount", ctypes.c_uint64),
        ("OtherOperationCount", ctypes.c_uint64),
        ("ReadTransferCount", ctypes.c_uint64),
        ("WriteTransferCount", ctypes.c_uint64),
        ("OtherTransferCount", ctypes.c_uint64),
    )


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):  # noqa: N801 - the SDK's name
    """winnt.h ``JOBOBJECT_EXTENDED_LIMIT_INFORMATION`` (144 bytes on 64-bit Windows)."""

    _fields_ = (
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_size_t),  # SIZE_T
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    )


def process_id_list_type(capacity: int) -> type[ctypes.Structure]:
    """winnt.h ``JOBOBJECT_BASIC_PROCESS_ID_LIST`` with room for ``capacity`` process ids."""

    class JOBOBJECT_BASIC_PROCESS_ID_LIST(ctypes.Structure):  # noqa: N801 - the SDK's name
        _fields_ = (
            ("NumberOfAssignedProcesses", ctypes.c_uint32),  # DWORD
            ("NumberOfProcessIdsInList", ctypes.c_uint32),  # DWORD
            ("ProcessIdList", ctypes.c_size_t * capacity),  # ULONG_PTR[]
        )

    return JOBOBJECT_BASIC_PROCESS_ID_LIST


def kill_on_close_limits() -> JOBOBJECT_EXTENDED_LIMIT_INFORMATION:
    """The limits of a run's job: end everything when the job closes; no breakaway of any kind."""
    info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    return info


class JobApi(Protocol):
    """The kernel32 calls a :class:`JobObject` makes, with handles as plain integers.

    Each raises OSError when the system call fails.
    """

    def create(self) -> int:
        """A new, unnamed job (``CreateJobObjectW``); its handle is not inheritable."""
        ...

    def set_limits(self, job: int, limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION) -> None:
        """``SetInformationJobObject(JobObjectExtendedLimitInformation)``."""
        ...

    def assign(self, job: int, pid: int) -> None:
        """Put process ``pid`` in the job (``OpenProcess`` + ``AssignProcessToJobObject``)."""
        ...

    def terminate(self, job: int, exit_code: int) -> None:
        """End every process in the job (``TerminateJobObject``)."""
        ...

    def process_ids(self, job: int) -> list[int]:
        """The ids of the processes in the job now (``QueryInformationJobObject``)."""
        ...

    def close(self, handle: int) -> None:
        """``CloseHandle``."""
        ...


class JobObject:
    """One job that ends its processes when it is terminated or closed, and lets none break away.

    Thread-safe: the runner lists a job's processes from worker threads
    while the loop may close it, and a closed handle's number can be given
    to another object at once, so no call uses the handle after (or while)
    it is closed.
    """

    def __init__(self, api: JobApi) -> None:
        self._api = api
        self._lock = threading.Lock()
        self._handle: int | None = api.create()
        try:
            api.set_limits(self._handle, kill_on_close_limits())
        except OSError:
            self.close()
            raise

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run (the job's processes have then been ended)."""
        return self._handle is None

    def assign(self, pid: int) -> None:
        """Put process ``pid`` in the job; what it starts from then on is born inside it."""
        with self._lock:
            if self._handle is None:
                raise OSError("The job object is closed.")
            self._api.assign(self._handle, pid)

    def terminate(self, exit_code: int = TERMINATED_EXIT_CODE) -> bool:
        """End every process in the job now; False if the job is closed or the call failed."""
        with self._lock:
            if self._handle is None:
                return False
            try:
                self._api.terminate(self._handle, exit_code)
            except OSError:
                return False
            return True

    def process_ids(self) -> list[int]:
        """The processes in the job now; empty once it is closed or if the query failed."""
        with self._lock:
            if self._handle is None:
                return []
            try:
                return self._api.process_ids(self._handle)
            except OSError:
                return []

    def close(self) -> None:
        """Close the job (idempotent): whatever still runs in it ends (kill on close)."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                self._api.close(handle)


def load_job_api() -> JobApi:
    """The real kernel32 calls; raises :class:`PlatformNotSupportedError` off Windows."""
    if sys.platform == "win32":
        return Kernel32JobApi()
    else:
        raise PlatformNotSupportedError(
            "Job Objects exist on Windows only.",
            hint="Other systems end a run's processes through sessions and psutil.",
        )


class Kernel32JobApi:
    """:class:`JobApi` through ctypes over kernel32.dll (Windows only)."""

    def __init__(self) -> None:
        # WinDLL exists only on Windows; getattr keeps this module importable
        # (and type-checked) everywhere.
        win_dll = getattr(ctypes, "WinDLL")  # noqa: B009 - see above
        k32 = win_dll("kernel32", use_last_error=True)
        handle, dword, boolean = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
        # Every handle is pointer-sized: without argtypes/restype ctypes would
        # pass and return C ints and cut 64-bit handles in half.
        k32.CreateJobObjectW.argtypes = (ctypes.c_void_p, ctypes.c_wchar_p)
        k32.CreateJobObjectW.restype = handle
        k32.SetInformationJobObject.argtypes = (handle, ctypes.c_int, ctypes.c_void_p, dword)
        k32.SetInformationJobObject.restype = boolean
        k32.QueryInformationJobObject.argtypes = (
            handle,
            ctypes.c_int,
            ctypes.c_void_p,
            dword,
            ctypes.POINTER(dword),
        )
        k32.QueryInformationJobObject.restype = boolean
        k32.OpenProcess.argtypes = (dword, boolean, dword)
        k32.OpenProcess.restype = handle
        k32.AssignProcessToJobObject.argtypes = (handle, handle)
        k32.AssignProcessToJobObject.restype = boolean
        k32.TerminateJobObject.argtypes = (handle, ctypes.c_uint)
        k32.TerminateJobObject.restype = boolean
        k32.CloseHandle.argtypes = (handle,)
        k32.CloseHandle.restype = boolean
        self._k32 = k32

    @staticmethod
    def _last_error() -> int:
        # ctypes has get_last_error on Windows only.
        return int(getattr(ctypes, "get_last_error")())  # noqa: B009 - see above

    def _failed(self, call: str) -> OSError:
        return OSError(f"{call} failed (Windows error {self._last_error()})")

    def create(self) -> int:
        """``CreateJobObjectW(NULL, NULL)``: default security, so the handle is not inherited."""
        job = self._k32.CreateJobObjectW(None, None)
        if not job:
            raise self._failed("CreateJobObjectW")
        return int(job)

    def set_limits(self, job: int, limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION) -> None:
        """Set the job's extended limits."""
        if not self._k32.SetInformationJobObject(
            job,
            JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
            ctypes.addressof(limits),
            ctypes.sizeof(limits),
        ):
            raise self._failed("SetInformationJobObject")

    def assign(self, job: int, pid: int) -> None:
        """Open ``pid`` with the rights assignment needs, assign it, close the process handle."""
        process = self._k32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
        if not process:
            raise self._failed("OpenProcess")
        try:
            if not self._k32.AssignProcessToJobObject(job, process):
                raise self._failed("AssignProcessToJobObject")
        finally:
            self._k32.CloseHandle(process)

    def terminate(self, job: int, exit_code: int) -> None:
        """End every process in the job."""
        if not self._k32.TerminateJobObject(job, exit_code):
            raise self._failed("TerminateJobObject")

    def process_ids(self, job: int) -> list[int]:
        """The job's process ids, asking again with more room while the list does not fit."""
        capacity = 64
        while True:
            listing = process_id_list_type(capacity)()
            if self._k32.QueryInformationJobObject(
                job,
                JOB_OBJECT_BASIC_PROCESS_ID_LIST,
                ctypes.addressof(listing),
                ctypes.sizeof(listing),
                None,
            ):
                count = int(listing.NumberOfProcessIdsInList)
                return [int(pid) for pid in listing.ProcessIdList[:count]]
            if self._last_error() != ERROR_MORE_DATA:
                raise self._failed("QueryInformationJobObject")
            capacity = max(capacity * 2, int(listing.NumberOfAssignedProcesses) + 16)

    def close(self, handle: int) -> None:
        """Close a handle (a job's: its processes end)."""
        self._k32.CloseHandle(handle)
