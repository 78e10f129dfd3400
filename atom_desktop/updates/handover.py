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

import contextlib
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
from atom_desktop.updates.ownership import check_private, make_state_dir
from atom_desktop.updates.trial import TrialOutcome, run_trial, start_detached

PLAN_NAME = "handover-plan.json"
#: create_time is computed from boot time and ticks; the same process may differ by this much.
_CREATE_TIME_SLACK_S = 0.5
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
    #: When ``wait_pid`` started (psutil's create_time): a later process given
    #: the same pid is not mistaken for the app.
    wait_created: float | None = None
    #: After ``quit_timeout_s``, how long the app is still waited for, to start it again once
    #: it has gone (it quit for the handover, late).
    restart_wait_s: float = 600.0

    def write(self, state_dir: Path) -> Path:
        """Save the plan in ``state_dir`` (made private to this user); returns its path."""
        make_state_dir(state_dir)
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
    process is the app now running when the update succeeded. Every step is
    best-effort: whatever fails (an install error, a file system error, a
    bug), an outcome is saved and, unless the new version runs, the previous
    one is made current and started again.
    """
    with contextlib.suppress(OSError, InstallError):  # else the trial fails and says why
        make_state_dir(state_dir)
    try:
        return _perform(plan, installer, state_dir, env)
    except Exception as exc:  # a last resort: the steps below catch what they expect
        problems: list[str] = []
        _make_current(installer, plan.previous, problems)
        restarted = _restart(installer, plan, state_dir, env)
        trouble = f" Also: {'; '.join(problems)}." if problems else ""
        message = (
            f"The update handover failed ({_say(exc)}); version {plan.version} was not "
            f"applied and {plan.previous} stays installed.{trouble}"
        )
        return _save(state_dir, "not_applied", plan, message, restarted), None


def _perform(
    plan: HandoverPlan,
    installer: Installer,
    state_dir: Path,
    env: Mapping[str, str],
) -> tuple[HandoverResult, TrialOutcome | None]:
    if plan.wait_pid is not None and not _gone(
        plan.wait_pid, plan.wait_created, plan.quit_timeout_s
    ):
        return _not_quit(plan, installer, state_dir, env), None
    trial: TrialOutcome | None = None
    try:
        installer.activate(plan.version)
        trial = run_trial(
            [str(installer.executable(plan.version)), *plan.args],
            state_dir / f"trial-{plan.version}",
            env=env,
            timeout_s=plan.start_timeout_s,
            log=state_dir / f"trial-{plan.version}.log",
        )
    except Exception as exc:  # any failure must end in the previous version
        problems: list[str] = [f"version {plan.version} could not be made current: {_say(exc)}"]
        _make_current(installer, plan.previous, problems)
        restarted = _restart(installer, plan, state_dir, env)
        message = f"Version {plan.version} was not applied; {plan.previous} stays installed: "
        return _save(state_dir, "not_applied", plan, message + "; ".join(problems), restarted), None
    if trial.started:
        # Failures past this point leave the new version running: only tidying is left.
        with contextlib.suppress(Exception):
            installer.prune({plan.version, plan.previous})
        pid = trial.process.pid if trial.process is not None else None
        message = f"Updated from {plan.previous} to {plan.version}."
        return _save(state_dir, "updated", plan, message, pid), trial
    problems = []
    _make_current(installer, plan.previous, problems)
    moved = None
    try:
        moved = installer.discard(plan.version)
    except Exception as exc:  # the rollback goes on without it
        problems.append(f"its files could not be moved aside: {_say(exc)}")
    restarted = _restart(installer, plan, state_dir, env)
    kept = f" Its files were moved to {moved}." if moved is not None else ""
    trouble = f" Also: {'; '.join(problems)}." if problems else ""
    message = (
        f"Rolled back to {plan.previous}: version {plan.version} failed to start "
        f"({trial.reason}).{kept}{trouble}"
    )
    return _save(state_dir, "rolled_back", plan, message, restarted), trial


def _not_quit(
    plan: HandoverPlan, installer: Installer, state_dir: Path, env: Mapping[str, str]
) -> HandoverResult:
    """The old app outlived its quit deadline: nothing is applied, and once it has
    gone after all (within ``restart_wait_s``) it is started again."""
    assert plan.wait_pid is not None
    message = (
        f"The running app (pid {plan.wait_pid}) did not quit within "
        f"{plan.quit_timeout_s:g} s, so version {plan.version} was not applied; "
        f"{plan.previous} stays installed."
    )
    result = _save(state_dir, "not_applied", plan, message)
    if not _gone(plan.wait_pid, plan.wait_created, plan.restart_wait_s):
        return result
    return _save(state_dir, "not_applied", plan, message, _restart(installer, plan, state_dir, env))


def _make_current(installer: Installer, version: str, problems: list[str]) -> None:
    """Make ``version`` current again, tried twice; what failed is added to ``problems``."""
    if installer.installed_version() == version:
        return
    error: Exception | None = None
    for _ in range(2):
        try:
            installer.activate(version)
        except Exception as exc:  # reported; the version is started anyway
            error = exc
        else:
            return
    problems.append(
        f"{version} could not be made current again ({_say(error)}); it was started from its "
        "own folder, and the menu entry may start the failed version until the next update"
    )


def _say(exc: BaseException | None) -> str:
    if isinstance(exc, InstallError):
        return exc.message
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


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
    """Run the handover whose plan ``ATOM_UPDATE_HANDOVER`` names; the process exit code.

    The plan is followed only from a state folder and an install root that
    no one but this user can change (:mod:`atom_desktop.updates.ownership`);
    otherwise nothing is done and the exit code is 2.
    """
    env = dict(os.environ if environ is None else environ)
    plan_path = Path(env.pop(HANDOVER_ENV))
    try:
        plan = _trusted_plan(plan_path)
    except (InstallError, OSError, ValueError, TypeError) as exc:
        text = str(exc) if isinstance(exc, InstallError) else f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"The update handover did not run: {text}\n")
        return 2
    root = Path(plan.install_root)
    result, trial = perform_handover(plan, installer_for(root), state_dir_of(root), env)
    plan_path.unlink(missing_ok=True)
    del trial  # the new version runs on in its own session; this process only started it
    return 0 if result.outcome == "updated" else 1


def _trusted_plan(plan_path: Path) -> HandoverPlan:
    """The plan at ``plan_path``, if its folder, itself and its install root are the user's only."""
    check_private(plan_path.parent, "The update state folder")
    check_private(plan_path, "The update plan")
    plan = HandoverPlan.read(plan_path)
    root = Path(plan.install_root)
    if state_dir_of(root).resolve() != plan_path.parent.resolve():
        raise InstallError(f"The update plan {plan_path} names another install ({root}).")
    check_private(root, "The install folder")
    return plan


def _gone(pid: int, created: float | None, timeout_s: float) -> bool:
    """Whether process ``pid`` (started at ``created``) has ended, waiting up to ``timeout_s``.

    A process with that pid but another start time is a new one that reused
    the number: the app it named has gone.
    """
    try:
        process = psutil.Process(pid)
        if created is not None and abs(process.create_time() - created) > _CREATE_TIME_SLACK_S:
            return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        # Not there, or another user's process: the app (this user's) has gone.
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


def process_created(pid: int) -> float | None:
    """When process ``pid`` started (as psutil tells it), for :attr:`HandoverPlan.wait_created`."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


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
    except (OSError, InstallError):
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
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / OUTCOME_NAME
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(json.dumps(asdict(result)), encoding="utf-8")
        temp.replace(path)
    except OSError as exc:
        # The handover's log (its stderr) keeps it; what has been done stands.
        sys.stderr.write(f"The update's outcome could not be saved: {exc}. {message}\n")
    return result


if __name__ == "__main__":
    sys.exit(main_from_env())
