"""``atom-desktop --uninstall``: nothing of the app left running or listening, the data kept.

An uninstall first ends the agent of the profile (the window's agent or a
headless ``serve``) the way Quit does, so no run, port or lock outlives the
app; then the launcher and start-at-login entries go. The user's data,
settings and keyring entries stay: deleting them is a separate, deliberate
step that the message spells out.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from atom_desktop.core.errors import AtomError
from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, AlreadyRunningError, InstanceLock
from atom_desktop.updates.linux_layout import LinuxLayout

#: How long the agent gets to stop as Quit stops it (runs cancelled, store closed).
STOP_TIMEOUT_S = 60.0


class UninstallError(AtomError):
    """The uninstall could not leave the app stopped."""


@dataclass(frozen=True)
class StoppedAgent:
    """The agent an uninstall ended: its pid and the port it listened on (if known)."""

    pid: int
    port: int | None


def stop_agent(data_dir: Path, timeout_s: float = STOP_TIMEOUT_S) -> StoppedAgent | None:
    """End the agent holding ``data_dir``'s lock; None when none runs.

    On Linux and macOS the agent gets SIGTERM, which it handles as Quit
    (runs cancelled, store closed). On Windows psutil's terminate is
    TerminateProcess, an abrupt end: the store's write-ahead log keeps what
    was committed, and the next start marks unfinished runs as interrupted;
    the Windows uninstaller (the MSI's) is the usual way there. Its lock must
    be free afterwards: that, not the pid, proves that nothing of it runs on,
    since a pid can be reused.
    """
    lock_path = data_dir / LOCK_FILE_NAME
    if not lock_path.exists():
        return None
    holder = _lock_holder(lock_path)
    if holder is None:
        return None
    pid, port = holder
    try:
        psutil.Process(pid).terminate()
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied as exc:
        raise UninstallError(
            f"Not allowed to stop the agent (PID {pid}): it runs as another user.",
            hint="Stop it as that user, then run the uninstall again.",
        ) from exc
    # The lock, not the pid, says when the agent is gone: it is released when
    # the process ends (even before its parent collects it), and a pid may be
    # reused by then.
    deadline = time.monotonic() + timeout_s
    while _lock_holder(lock_path) is not None:
        if time.monotonic() > deadline:
            raise UninstallError(
                f"The agent (PID {pid}) did not stop within {timeout_s:.0f} s.",
                hint="Quit ATOM Desktop from its tray menu, then run the uninstall again.",
            )
        time.sleep(0.1)
    if port is not None and _listening(port):
        raise UninstallError(
            f"Something still listens on port {port} after the agent (PID {pid}) stopped.",
            hint=f"Find it with: ss -ltnp 'sport = :{port}' (or netstat on Windows).",
        )
    return StoppedAgent(pid, port)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _lock_holder(lock_path: Path) -> tuple[int, int | None] | None:
    """The pid and port of the process holding ``lock_path``, or None if it is free."""
    lock = InstanceLock(lock_path)
    try:
        lock.acquire({"pid": os.getpid(), "uninstalling": True})
    except AlreadyRunningError as exc:
        pid, port = exc.info.get("pid"), exc.info.get("port")
        if not isinstance(pid, int):
            raise UninstallError(
                f"An ATOM Desktop agent holds {lock_path.parent}, but its lock file names no "
                "process.",
                hint="Quit ATOM Desktop from its tray menu, then run the uninstall again.",
            ) from exc
        return pid, port if isinstance(port, int) else None
    lock.release()
    return None


def app_removal_hint(executable: Path | None = None) -> str:
    """How to remove the program itself, as it was installed."""
    if getattr(sys, "frozen", False):
        program = (executable or Path(sys.executable)).resolve()
        layout = LinuxLayout.of_executable(program)
        # An installed build is the whole install root (every version, the link).
        folder = layout.root if layout is not None else program.parent
        # if/elif/else: mypy checks for one system and calls code after a
        # return for another unreachable.
        if sys.platform == "win32":
            hint = "Remove the app itself in Settings > Apps (its installer put it there)."
        elif sys.platform == "darwin":
            hint = "Move the app itself to the Bin from Applications."
        else:
            hint = f"To remove the app itself, delete its folder: rm -r {shlex.quote(str(folder))}"
        return hint
    return "To remove the app itself: pip uninstall atom-desktop (in the environment it runs from)."


def stopped_message(stopped: StoppedAgent | None) -> str:
    """What the uninstall says about the agent."""
    if stopped is None:
        return "No ATOM Desktop agent was running."
    where = f"; nothing listens on port {stopped.port} any more" if stopped.port else ""
    return f"Stopped the running agent (PID {stopped.pid}){where}."
