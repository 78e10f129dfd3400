"""A run's supervisor (Linux): the one process that holds all of a run's processes.

The runner starts this script in place of the command (``python -I -S
supervisor.py GRACE AGENT_PID FD -- COMMAND...``); it starts the command in
a session of its own and stays its parent. Being a child subreaper, it
adopts every descendant whose parent exits, so whatever the command does to
its environment, session or parentage (``setsid -f``, ``env -i``, a double
fork), every process of the run stays below this one, where the runner
finds it, and no process of another run ever is.

- When the command ends, its wait status goes to the runner as one line on
  descriptor FD ("exit N" or "signal N"), after a first line that says
  it started ("pid N") or could not ("error ERRNO"); the runner then ends whatever the
  run left running, as it always has, and this process exits once it has no
  child left.
- When the agent dies (even by SIGKILL), the kernel sends this process
  SIGUSR1 (``PR_SET_PDEATHSIG``): it then ends every process of the run,
  SIGTERM, GRACE seconds, SIGKILL, so a crash of the agent leaves nothing
  running.

It imports only the standard library and runs with ``-I -S`` (no site
packages), so it starts in a few milliseconds. SIGTERM, SIGINT and SIGHUP
are ignored here: they are for the run's processes, and this one must
outlive them to reap them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path

# Linux only (prctl): the runner starts this nowhere else (runner/supervision.py).
# As an assert at the top, it also tells a type checker run for another
# system to skip the rest of the file.
assert sys.platform.startswith("linux"), "the run supervisor needs Linux"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_AGENT_GONE = signal.SIGUSR1


class _AgentGoneError(Exception):
    """The agent that started the run has died."""


def _on_agent_gone(signum: int, frame: object) -> None:
    raise _AgentGoneError


def _children(pid: int) -> list[int]:
    # Each thread lists the children it forked.
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids.extend(int(p) for p in (task / "children").read_text().split())
    return pids


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    while pending:
        children = _children(pending.pop())
        found.extend(children)
        pending.extend(children)
    return found


def _signal_all(sig: int) -> None:
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _reap() -> bool:
    """Reap what has ended; False once no child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _end_everything(grace_s: float) -> None:
    """SIGTERM to every descendant, up to ``grace_s`` to end, then SIGKILL until none is left."""
    _signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _reap() and time.monotonic() < deadline:
        time.sleep(0.02)
    while _reap():
        _signal_all(signal.SIGKILL)
        time.sleep(0.02)


def _start(command: list[str], status_fd: int) -> int | None:
    """Start the command; report "pid N", or "error ERRNO" (and return None) if exec failed."""
    # The status descriptor must not reach the command (close on exec).
    os.set_inheritable(status_fd, False)
    # Close-on-exec too: end of file with nothing read means the exec worked.
    exec_read, exec_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the command: its own session, default signal handling
        try:
            os.close(exec_read)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, _AGENT_GONE):
                signal.signal(sig, signal.SIG_DFL)
            os.setsid()
            os.execvp(command[0], command)  # noqa: S606 - argv as given, no shell
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.write(exec_write, str(exc.errno).encode())
        os._exit(127)
    os.close(exec_write)
    failure = b""
    while piece := os.read(exec_read, 64):
        failure += piece
    os.close(exec_read)
    if failure:
        os.write(status_fd, b"error %s\n" % failure)
        return None
    os.write(status_fd, f"pid {pid}\n".encode())
    return pid


def main(args: list[str]) -> int:
    """Run the command in ``args`` (``GRACE AGENT_PID FD -- COMMAND...``) as described above."""
    grace_s, agent_pid, status_fd = float(args[0]), int(args[1]), int(args[2])
    command = args[4:]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(_AGENT_GONE, _on_agent_gone)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, _AGENT_GONE, 0, 0, 0)
    try:
        if os.getppid() != agent_pid:  # the agent died before we could ask to be told
            raise _AgentGoneError
        command_pid = _start(command, status_fd)
        # The run's output and input belong to the command: holding them
        # here would keep the runner from seeing end of file.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                return 0
            if pid == command_pid and command_pid is not None:
                code = os.waitstatus_to_exitcode(status)
                line = f"signal {-code}\n" if code < 0 else f"exit {code}\n"
                with contextlib.suppress(OSError):
                    os.write(status_fd, line.encode())
                os.close(status_fd)
    except _AgentGoneError:
        signal.signal(_AGENT_GONE, signal.SIG_IGN)
        _end_everything(grace_s)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
