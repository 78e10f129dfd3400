"""Finding and ending every process a run started, however it detached.

On Linux the agent makes itself a child subreaper, so a grandchild whose
parent exited (a double fork, ``(cmd &)``) is re-parented to the agent
instead of init, where we can still see it; the run id in every
descendant's environment tells whose it is. A run remembers every process it
has been seen to own (pid and start time, so a reused pid is never killed);
cancel asks them all (and, on POSIX, their process group) to end, waits a
grace period, then kills what is left.

What differs between systems (process groups, sessions, the subreaper,
reaping) is in :mod:`atom_desktop.platform.process_control`; everything here
works through psutil, so on a system with no process groups the tree is
still ended process by process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from atom_desktop.platform import process_control
from atom_desktop.platform.process_control import Ending

logger = logging.getLogger(__name__)


Identity = tuple[int, float]  # pid and its start time


def identity(proc: psutil.Process) -> Identity | None:
    """A process's pid with its start time, or None if it is gone."""
    try:
        return proc.pid, proc.create_time()
    except psutil.Error:
        return None


def identities(pids: Iterable[int]) -> set[Identity]:
    """The identities of the processes among ``pids`` that still exist."""
    found: set[Identity] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            ident = identity(psutil.Process(pid))
            if ident is not None:
                found.add(ident)
    return found


def descendants(root_pid: int) -> set[Identity]:
    """The process and everything under it, as far as it can be seen now."""
    found: set[Identity] = set()
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return found
    for proc in procs:
        ident = identity(proc)
        if ident is not None:
            found.add(ident)
    return found


RUN_MARKER = "ATOM_RUN_ID"


def direct_children() -> list[int]:
    """Our own child pids, cheaply.

    Linux lists each thread's children in /proc/self/task/*/children, which
    costs a few reads; psutil would scan every process on the machine, and
    this runs after every run and several times a second.
    """
    tasks = Path("/proc/self/task")
    if tasks.is_dir():
        pids: set[int] = set()
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in (task / "children").read_text().split())
        return sorted(pids)
    with contextlib.suppress(psutil.Error):
        return [p.pid for p in psutil.Process().children()]
    return []


def adopted_orphans(run_id: str, session_id: int, exclude: set[int]) -> set[Identity]:
    """Our children (adopted orphans) that belong to the run.

    One belongs to it if it is still in the run's session, or, having left
    the session (``setsid`` in a daemon), still carries the run's marker in
    its environment, which every descendant inherits.
    """
    found: set[Identity] = set()
    for pid in direct_children():
        if pid in exclude:
            continue
        with contextlib.suppress(OSError, psutil.Error):
            proc = psutil.Process(pid)
            if (
                process_control.session_of(pid) == session_id
                or proc.environ().get(RUN_MARKER) == run_id
            ):
                found |= descendants(pid)
    return found


def marked_anywhere(run_id: str, session_id: int) -> set[Identity]:
    """Every process, wherever it now is, still in the run's session or carrying its marker.

    For a system where no one adopts a run's orphans for us (no subreaper:
    macOS, the BSDs; Windows when its job could not be made): there an
    orphan's parent is init or launchd, or nobody, so no walk from the
    agent finds it. This looks at every process on the machine, so the
    runner does it once per ending, not while the run goes on.
    """
    me = os.getpid()
    found: set[Identity] = set()
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if proc.pid == me:
                continue
            if (
                process_control.session_of(proc.pid) == session_id
                or proc.environ().get(RUN_MARKER) == run_id
            ):
                found |= descendants(proc.pid)
    return found


def alive(ident: Identity) -> psutil.Process | None:
    """The process if it still runs and is the same one (not a reused pid)."""
    try:
        proc = psutil.Process(ident[0])
        if abs(proc.create_time() - ident[1]) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def parents_first(idents: set[Identity]) -> list[Identity]:
    """The processes oldest first, so each parent is signalled before what it started.

    A shell signalled after its child may see the child die first and exit
    with 128+N; signalled first, it ends by the signal, as the run's record
    then says.
    """
    return sorted(idents, key=lambda ident: (ident[1], ident[0]))


def signal_all(idents: set[Identity], how: Ending, group: int | None) -> int:
    """End (``how``) the group and every process still alive; return how many processes got it.

    The group is signalled where the system has process groups; each process
    is ended through psutil in any case, so the tree ends without them too.
    """
    if group is not None:
        process_control.signal_group(group, how)
    sent = 0
    for ident in parents_first(idents):
        proc = alive(ident)
        if proc is not None:
            with contextlib.suppress(psutil.Error):
                process_control.end_process(proc, how)
                sent += 1
    return sent


def any_alive(idents: set[Identity]) -> bool:
    """Whether any of the processes still runs."""
    return any(alive(i) is not None for i in idents)


def reap_orphans(keep: set[int], still_safe: Callable[[], bool] = lambda: True) -> int:
    """Reap zombie children that are not run roots (asyncio waits for those).

    Run roots are session leaders (each run starts its own session). A zombie
    that is not one is an adopted orphan and is reaped at once; one that is
    (a descendant that called ``setsid``) is reaped only while ``still_safe``
    says no new run root can be among our children unrecognised.
    """
    reaped = 0
    for pid in direct_children():
        if pid in keep:
            continue
        with contextlib.suppress(psutil.Error, ChildProcessError, OSError):
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                continue
            session = process_control.session_of(pid)
            if session is None:
                continue  # reaped meanwhile
            if session != pid or still_safe():
                reaped += process_control.reap_zombie(pid)
    return reaped


def left_by_runs(remembered: dict[str, set[Identity]]) -> set[Identity]:
    """What runs that a crash interrupted still have running, from what was remembered of them.

    A remembered process counts only if it is still the same one (pid and
    start time); with it go its descendants, the members of a session it
    leads, and any process carrying one of the runs' markers.
    """
    me = os.getpid()
    leaders = {ident for idents in remembered.values() for ident in idents if alive(ident)}
    found: set[Identity] = set()
    for pid, _ in leaders:
        found |= descendants(pid)
    sessions = {pid for pid, _ in leaders}
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if proc.pid == me:
                continue
            if (
                process_control.session_of(proc.pid) in sessions
                or proc.environ().get(RUN_MARKER) in remembered
            ):
                found |= descendants(proc.pid)
    return {ident for ident in found if ident[0] != me}


def kill_blocking(
    idents: set[Identity],
    group: int | None,
    grace_s: float,
    rescan: Callable[[], set[Identity]] | None = None,
) -> None:
    """Terminate, wait up to ``grace_s``, kill: for use off the event loop.

    ``rescan`` finds the run's processes again while they are being ended,
    so one forked meanwhile is ended too.
    """
    idents = set(idents)
    signal_all(idents, Ending.TERMINATE, group)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if rescan is not None:
            new = rescan() - idents
            if new:
                signal_all(new, Ending.TERMINATE, None)
                idents |= new
        if not any_alive(idents):
            return
        time.sleep(0.02)
    # Bounded: a process stuck in the kernel ignores even SIGKILL.
    for _ in range(250):
        if rescan is not None:
            idents |= rescan()
        if not any_alive(idents):
            return
        signal_all(idents, Ending.KILL, group)
        time.sleep(0.02)
