"""What ending a run's process tree needs from the system.

Every system can end one process through psutil (a signal on POSIX,
``TerminateProcess`` on Windows), so a tree is always ended process by
process. POSIX adds process groups and sessions: one ``killpg`` reaches a
group's members even before they have been seen, and a session tells which
detached process belongs to which run. Windows has neither in a form a
signal can reach (Job Objects would be its answer); there these functions
say "not available" and the per-process path does the work alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import signal
import sys

import psutil

_PR_SET_CHILD_SUBREAPER = 36


class Ending(enum.Enum):
    """How firmly to end a process."""

    #: Ask it to end (SIGTERM on POSIX; Windows can only end it outright).
    TERMINATE = "terminate"
    #: End it at once (SIGKILL on POSIX; TerminateProcess on Windows).
    KILL = "kill"


def end_process(proc: psutil.Process, how: Ending) -> None:
    """End one process; psutil checks that the pid was not reused and raises psutil.Error if gone.

    psutil's ``terminate``/``kill`` are SIGTERM/SIGKILL on POSIX and
    ``TerminateProcess`` on Windows, so this is the same on every system.
    """
    if how is Ending.TERMINATE:
        proc.terminate()
    else:
        proc.kill()


# Each function below checks the system with if/else, never an early return:
# mypy checks one system at a time (``--platform``) and would call the code
# after an early return unreachable on the others.


def signal_group(group: int, how: Ending) -> bool:
    """Signal a whole process group; False where the system cannot (or the group is gone)."""
    if sys.platform == "win32":
        return no_signal_group(group, how)
    else:
        return posix_signal_group(group, how)


def posix_signal_group(group: int, how: Ending) -> bool:
    """The POSIX backend of :func:`signal_group`: ``killpg`` with SIGTERM or SIGKILL."""
    if sys.platform == "win32":
        return False  # neither killpg nor SIGKILL exists there
    else:
        sig = signal.SIGTERM if how is Ending.TERMINATE else signal.SIGKILL
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def no_signal_group(group: int, how: Ending) -> bool:
    """The backend for systems without signalable process groups (Windows): nothing is sent.

    It takes what :func:`posix_signal_group` takes, so either can stand in for the other.
    """
    return False


def session_of(pid: int) -> int | None:
    """The POSIX session id of ``pid``; None if it is gone or the system has no sessions."""
    if sys.platform == "win32":
        return None
    else:
        try:
            return os.getsid(pid)
        except OSError:
            return None


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux only); True on success."""
    # macOS and the BSDs have no subreaper: there a run's orphans go to
    # launchd/init, and the runner knows them only from having seen them
    # (psutil, while their parent lived) or by their run marker.
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
        except (OSError, AttributeError):
            return False
    else:
        return False


def reap_zombie(pid: int) -> bool:
    """Collect a child that has ended (a zombie, POSIX only); True if one was collected."""
    if sys.platform == "win32":
        return False  # no zombies: an ended process's handle is closed by whoever holds it
    else:
        with contextlib.suppress(ChildProcessError):
            return os.waitpid(pid, os.WNOHANG)[0] == pid
        return False
