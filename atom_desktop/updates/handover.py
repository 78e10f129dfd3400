"""The handover from the running version to the new one, with rollback.

The running app cannot replace itself while its agent holds the port and the
data directory's lock, so it writes a plan, starts the handover (its own
program with ``ATOM_UPDATE_HANDOVER`` naming the plan) and quits. The
handover waits for it to be gone, makes the new version current and starts
it on trial (:mod:`atom_desktop.updates.trial`). If the new version does not
confirm its start, the previous one is made current again and started, the
failed files are moved aside, and the outcome is written where the app
that starts next reads it (:func:`read_outcome`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import psutil

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.installer import Installer
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.markers import HANDOVER_ENV
from atom_desktop.updates.trial import TrialOutcome, run_trial, start_detached

PLAN_NAME = "handover-plan.json"
OUTCOME_NAME = "update-outcome.json"

Outcome = Literal["updated", "rolled_back", "not_applied"]


@dataclass(frozen=True)
class HandoverPlan:
    """What the handover does: which install, from which version to which, and whom to wait for."""

    install_root: str
    version: str
    previous: str
    wait_pid: int | None
    args: list[str] = field(default_factory=list)
    start_timeout_s: float = 60.0
    quit_timeout_s: float = 60.0

    def write(self, state_dir: Path) -> Path:
        """Save the plan in ``state_dir``; returns its path."""
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / PLAN_NAME
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        temp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> HandoverPlan:
        """Load a plan written by :meth:`write`."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class HandoverResult:
    """How a handover ended, as the app that starts next reports it."""

    outcome: Outcome
    version: str
    previous: str
    message: str
    at: str
    pid: int | None = None

    @classmethod
    def read(cls, path: Path) -> HandoverResult | None:
        """The result saved at ``path``, or None if there is none (or it is unreadable)."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def state_dir_of(install_root: Path) -> Path:
    """Where plans, trial files, trial logs and outcomes of an install are kept."""
    return install_root / ".update"


def perform_handover(
    plan: HandoverPlan,
    installer: Installer,
    state_dir: Path,
    env: Mapping[str, str],
) -> tuple[HandoverResult, TrialOutcome | None]:
    """Wait for the old app to quit, switch, start the new version on trial, roll back on failure.

    Returns the result (also saved in ``state_dir``) and the trial, whose
    process is the app now running when the update succeeded.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    if plan.wait_pid is not None and not _gone(plan.wait_pid, plan.quit_timeout_s):
        return _save(
            state_dir,
            "not_applied",
            plan,
            f"The running app (pid {plan.wait_pid}) did not quit within "
            f"{plan.quit_timeout_s:g} s, so version {plan.version} was not applied; "
            f"{plan.previous} stays installed.",
        ), None
    try:
        installer.activate(plan.version)
    except InstallError as exc:
        _restart(installer, plan, state_dir, env)
        return _save(state_dir, "not_applied", plan, exc.message), None
    trial = run_trial(
        [str(installer.executable(plan.version)), *plan.args],
        state_dir / f"trial-{plan.version}",
        env=env,
        timeout_s=plan.start_timeout_s,
        log=state_dir / f"trial-{plan.version}.log",
    )
    if trial.started:
        installer.prune({plan.version, plan.previous})
        pid = trial.process.pid if trial.process is not None else None
        message = f"Updated from {plan.previous} to {plan.version}."
        return _save(state_dir, "updated", plan, message, pid), trial
    installer.activate(plan.previous)
    moved = installer.discard(plan.version)
    restarted = _restart(installer, plan, state_dir, env)
    kept = f" Its files were moved to {moved}." if moved is not None else ""
    message = (
        f"Rolled back to {plan.previous}: version {plan.version} failed to start "
        f"({trial.reason}).{kept}"
    )
    return _save(state_dir, "rolled_back", plan, message, restarted), trial


def read_outcome(state_dir: Path, *, consume: bool = True) -> HandoverResult | None:
    """The last handover's result, removed once read (when ``consume``) so it is shown once."""
    path = state_dir / OUTCOME_NAME
    result = HandoverResult.read(path)
    if result is not None and consume:
        path.unlink(missing_ok=True)
    return result


def installer_for(install_root: Path) -> Installer:
    """The installer of an install root on this system."""
    # Only the Linux layout hands over through this module; the MSI and DMG
    # installers (windows_msi.py, macos_dmg.py) are driven the same way once tried there.
    return LinuxLayout(install_root)


def handover_program(*, frozen: bool, executable: Path) -> list[str]:
    """How to start the handover: the built app's own program, or this module from source.

    The program's resolved path is used: ``current`` is switched during the
    handover, and the handover must keep running the files it started from.
    """
    if frozen:
        return [str(executable.resolve())]
    return [str(executable), "-m", "atom_desktop.updates.handover"]


def launch_handover(
    plan: HandoverPlan, state_dir: Path, program: list[str], env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Save ``plan`` and start the handover process in a session of its own."""
    plan_path = plan.write(state_dir)
    return start_detached(
        program, {**env, HANDOVER_ENV: str(plan_path)}, state_dir / "handover.log"
    )


def main_from_env(environ: Mapping[str, str] | None = None) -> int:
    """Run the handover whose plan ``ATOM_UPDATE_HANDOVER`` names; the process exit code."""
    env = dict(os.environ if environ is None else environ)
    plan_path = Path(env.pop(HANDOVER_ENV))
    plan = HandoverPlan.read(plan_path)
    root = Path(plan.install_root)
    result, trial = perform_handover(plan, installer_for(root), state_dir_of(root), env)
    plan_path.unlink(missing_ok=True)
    del trial  # the new version runs on in its own session; this process only started it
    return 0 if result.outcome == "updated" else 1


def _gone(pid: int, timeout_s: float) -> bool:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            # A zombie has ended: its port and lock are already released.
            if process.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _restart(
    installer: Installer, plan: HandoverPlan, state_dir: Path, env: Mapping[str, str]
) -> int | None:
    """Start the previous version again (it quit for the handover); its pid, None if it failed."""
    if plan.wait_pid is None:
        return None
    try:
        process = start_detached(
            [str(installer.executable(plan.previous)), *plan.args],
            env,
            state_dir / f"restart-{plan.previous}.log",
        )
    except OSError:
        return None
    # Never waited for: it is the app now and outlives this process. Marked as
    # done so Popen does not warn that a child it dropped is still running.
    process.returncode = 0
    return process.pid


def _save(
    state_dir: Path, outcome: Outcome, plan: HandoverPlan, message: str, pid: int | None = None
) -> HandoverResult:
    result = HandoverResult(
        outcome, plan.version, plan.previous, message, datetime.now(UTC).isoformat(), pid
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / OUTCOME_NAME
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(asdict(result)), encoding="utf-8")
    temp.replace(path)
    return result


if __name__ == "__main__":
    sys.exit(main_from_env())
