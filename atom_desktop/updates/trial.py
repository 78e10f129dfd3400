"""The trial start of a new version: it must say it started, or it is rolled back.

The version being tried is started with ``ATOM_UPDATE_TRIAL`` naming a file.
The real app writes that file once its agent answers ``/api/v1/health``
(:func:`confirm_trial`); whoever started it waits, bounded, for the file. A
program that exits first, or stays silent past the deadline, failed: its
whole process tree is ended.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from atom_desktop.platform.process_control import Ending, end_process, signal_group
from atom_desktop.updates.markers import TRIAL_ENV

_CONFIRMATION = "started"
_LOG_TAIL_BYTES = 600


@dataclass
class TrialOutcome:
    """How a trial start went; ``process`` is the started program (ended if it failed)."""

    started: bool
    reason: str
    process: subprocess.Popen[bytes] | None = None


def confirm_trial(environ: MutableMapping[str, str] | None = None) -> bool:
    """Tell whoever started this version on trial that it has started; False if not on trial.

    The variable is removed, so programs the app runs later do not confirm
    anything in its name.
    """
    env = os.environ if environ is None else environ
    path_text = env.pop(TRIAL_ENV, None)
    if not path_text:
        return False
    path = Path(path_text)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(f"{_CONFIRMATION} {os.getpid()}\n", encoding="utf-8")
    temp.replace(path)
    return True


def confirmed_pid(trial_file: Path) -> int | None:
    """The pid in a trial file the program wrote, or None if it has not confirmed."""
    try:
        word, _, pid = trial_file.read_text(encoding="utf-8").partition(" ")
    except OSError:
        return None
    return int(pid) if word == _CONFIRMATION and pid.strip().isdigit() else None


def start_detached(
    argv: list[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, its output to ``log`` (or nowhere)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    try:
        # A program of an installed version, started without a shell.
        return subprocess.Popen(  # noqa: S603
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=sys.platform != "win32",
            close_fds=True,
        )
    finally:
        if not isinstance(out, int):
            out.close()


def run_trial(
    argv: list[str],
    trial_file: Path,
    *,
    env: Mapping[str, str],
    timeout_s: float,
    log: Path,
    poll_s: float = 0.05,
) -> TrialOutcome:
    """Start ``argv`` on trial and wait until it confirms, exits or runs out of time."""
    trial_file.unlink(missing_ok=True)
    log.unlink(missing_ok=True)
    try:
        process = start_detached(argv, {**env, TRIAL_ENV: str(trial_file)}, log)
    except OSError as exc:
        return TrialOutcome(False, f"it could not be started: {exc}")
    deadline = time.monotonic() + timeout_s
    while True:
        confirmed = confirmed_pid(trial_file)
        if confirmed is not None and _is_within(confirmed, process.pid):
            return TrialOutcome(True, "it started", process)
        code = process.poll()
        if code is not None:
            end_tree(process)  # what it may have started before it exited
            reason = f"it exited with code {code} before confirming its start"
            return TrialOutcome(False, reason + _tail(log), process)
        if time.monotonic() >= deadline:
            end_tree(process)
            reason = f"it did not confirm its start within {timeout_s:g} s"
            return TrialOutcome(False, reason + _tail(log), process)
        time.sleep(poll_s)


def _is_within(pid: int, root_pid: int) -> bool:
    """Whether ``pid`` is ``root_pid`` or one of the processes it started.

    Only the version on trial may confirm its start; a confirmation written
    by any other process (in the trial's name) is ignored.
    """
    if pid == root_pid:
        return True
    try:
        return any(parent.pid == root_pid for parent in psutil.Process(pid).parents())
    except psutil.Error:
        return False


def end_tree(process: subprocess.Popen[bytes], grace_s: float = 3.0) -> None:
    """End ``process`` and everything it started, then collect it."""
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(process.pid)
        members = [root, *root.children(recursive=True)]
        # The trial runs in a session of its own: one signal reaches its group.
        signal_group(process.pid, Ending.TERMINATE)
        for member in members:
            with contextlib.suppress(psutil.Error):
                end_process(member, Ending.TERMINATE)
        _, alive = psutil.wait_procs(members, timeout=grace_s)
        for member in alive:
            with contextlib.suppress(psutil.Error):
                end_process(member, Ending.KILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def _tail(log: Path) -> str:
    try:
        with log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"; its last output: {text}" if text else ""
