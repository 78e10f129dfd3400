"""Ending the helper processes the tests start (daemons, X servers)."""

from __future__ import annotations

import contextlib
import os
import subprocess

import psutil


def stop_process(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10
) -> None:
    """SIGTERM, wait ``timeout`` seconds, then SIGKILL; always reaped."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_pid(pid: int | None, timeout: float = 10) -> None:
    """End a process known only by its pid (one a test's code started detached), if it runs.

    SIGTERM, then SIGKILL after ``timeout``; reaped here if it became this
    process's child (a test process may be a subreaper).
    """
    if pid is None:
        return
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        process.terminate()
    _, alive = psutil.wait_procs([process], timeout=timeout)
    for rest in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            rest.kill()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
