"""Applying a verified update: switch, trial start, and rollback when the new version fails.

The versions are stand-in programs (tests/support/update_builds.py): making
two real builds per test is out of reach. The switch, the trial, the ending
of a failed version's processes and the rollback are the real code, run on
real processes; one test runs the handover as the separate process the app
starts.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from atom_desktop.updates.handover import (
    HandoverPlan,
    handover_program,
    launch_handover,
    perform_handover,
    read_outcome,
    state_dir_of,
)
from atom_desktop.updates.markers import HANDOVER_ENV, TRIAL_ENV
from atom_desktop.updates.trial import (
    TrialOutcome,
    confirm_trial,
    confirmed_pid,
    end_tree,
    run_trial,
)
from tests.integration.updates.conftest import INSTALLED, UpdateLab
from tests.support.processes import stop_pid
from tests.support.update_builds import tree_fingerprint


def _prepared(lab: UpdateLab, version: str, behaviour: str) -> None:
    lab.release(version, behaviour)  # type: ignore[arg-type]
    updater = lab.updater()
    manifest = updater.check()
    assert manifest is not None
    updater.prepare(manifest, updater.download(manifest))


def _plan(
    lab: UpdateLab, version: str, wait_pid: int | None, timeout_s: float = 20
) -> HandoverPlan:
    return HandoverPlan(
        install_root=str(lab.root),
        version=version,
        previous=INSTALLED,
        wait_pid=wait_pid,
        args=["serve"],
        start_timeout_s=timeout_s,
        quit_timeout_s=10,
    )


def _finish(trial: TrialOutcome | None) -> None:
    if trial is not None and trial.process is not None:
        end_tree(trial.process)


def test_a_version_that_starts_becomes_current(lab: UpdateLab) -> None:
    _prepared(lab, "0.2.0", "starts")
    result, trial = perform_handover(
        _plan(lab, "0.2.0", None), lab.layout, state_dir_of(lab.root), dict(os.environ)
    )
    try:
        assert result.outcome == "updated", result.message
        assert lab.layout.installed_version() == "0.2.0"
        assert trial is not None and trial.process is not None
        assert trial.process.poll() is None  # the new version runs on
        # The previous version is kept for a later rollback.
        assert lab.layout.executable(INSTALLED).is_file()
        assert read_outcome(state_dir_of(lab.root)) == result
        assert read_outcome(state_dir_of(lab.root)) is None  # shown once
    finally:
        _finish(trial)


@pytest.mark.parametrize("behaviour", ["crashes", "hangs"])
def test_a_version_that_fails_to_start_is_rolled_back(
    lab: UpdateLab, old_app: subprocess.Popen[bytes], behaviour: str
) -> None:
    before = tree_fingerprint(lab.root)
    _prepared(lab, "0.2.0", behaviour)
    old_app.terminate()  # the app quits for the handover
    result, trial = perform_handover(
        _plan(lab, "0.2.0", old_app.pid, timeout_s=3),
        lab.layout,
        state_dir_of(lab.root),
        dict(os.environ),
    )
    try:
        assert result.outcome == "rolled_back"
        assert result.message.startswith("Rolled back to 0.1.0: version 0.2.0 failed to start")
        if behaviour == "crashes":
            assert "exited with code 3" in result.message
            assert "simulated start failure" in result.message  # its own words
        else:
            assert "did not confirm its start within 3 s" in result.message
        # The failed version's processes are gone, current is the old version again.
        assert trial is not None and trial.process is not None
        assert trial.process.poll() is not None
        assert lab.layout.installed_version() == INSTALLED
        # The installed app is as it was; the failed files were moved aside.
        after = tree_fingerprint(lab.root)
        assert {k: v for k, v in after.items() if not k.startswith("failed")} == before
        assert [p.name.split("-")[0] for p in (lab.root / "failed").iterdir()] == ["0.2.0"]
        assert not (lab.root / "versions" / "0.2.0").exists()
        # The previous version was started again in place of the one that quit.
        assert result.pid is not None and psutil.pid_exists(result.pid)
    finally:
        stop_pid(result.pid)


def test_the_handover_process_switches_after_the_app_quits(
    lab: UpdateLab, old_app: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    _prepared(lab, "0.2.0", "starts")
    state = state_dir_of(lab.root)
    helper = launch_handover(
        _plan(lab, "0.2.0", old_app.pid),
        state,
        handover_program(frozen=False, executable=Path(sys.executable)),
        dict(os.environ),
    )
    result = None
    try:
        # The handover waits for the app: nothing is switched while it runs.
        with pytest.raises(subprocess.TimeoutExpired):
            helper.wait(timeout=0.5)
        assert lab.layout.installed_version() == INSTALLED
        old_app.terminate()
        old_app.wait(10)  # reaped, as the app's parent (the desktop session) would
        assert helper.wait(timeout=60) == 0, (state / "handover.log").read_text()
        result = read_outcome(state)
        assert result is not None and result.outcome == "updated", result
        assert lab.layout.installed_version() == "0.2.0"
        assert result.pid is not None and psutil.pid_exists(result.pid)
    finally:
        end_tree(helper)
        stop_pid(result.pid if result is not None else None)


def test_an_app_that_does_not_quit_is_not_switched_under(
    lab: UpdateLab, old_app: subprocess.Popen[bytes]
) -> None:
    _prepared(lab, "0.2.0", "starts")
    plan = HandoverPlan(
        str(lab.root), "0.2.0", INSTALLED, old_app.pid, quit_timeout_s=0.5, restart_wait_s=0.2
    )
    result, trial = perform_handover(plan, lab.layout, state_dir_of(lab.root), dict(os.environ))
    assert trial is None
    assert result.outcome == "not_applied"
    assert "did not quit" in result.message
    assert lab.layout.installed_version() == INSTALLED


def test_a_switch_that_fails_restarts_the_previous_version_and_says_why(
    lab: UpdateLab, old_app: subprocess.Popen[bytes]
) -> None:
    _prepared(lab, "0.2.0", "starts")
    # The switch's temporary link cannot be made: a directory holds its name.
    (lab.root / f".current-{os.getpid()}" / "in-the-way").mkdir(parents=True)
    old_app.terminate()
    result, trial = perform_handover(
        _plan(lab, "0.2.0", old_app.pid), lab.layout, state_dir_of(lab.root), dict(os.environ)
    )
    try:
        assert trial is None
        assert result.outcome == "not_applied"
        assert result.message.startswith("Version 0.2.0 was not applied; 0.1.0 stays installed")
        assert "could not be made current" in result.message
        assert read_outcome(state_dir_of(lab.root)) == result
        assert lab.layout.installed_version() == INSTALLED
        assert result.pid is not None and psutil.pid_exists(result.pid)  # started again
    finally:
        stop_pid(result.pid)


def test_a_rollback_whose_files_cannot_be_moved_aside_still_restores_the_previous_version(
    lab: UpdateLab, old_app: subprocess.Popen[bytes]
) -> None:
    _prepared(lab, "0.2.0", "crashes")
    (lab.root / "failed").write_text("not a folder", encoding="utf-8")
    old_app.terminate()
    result, trial = perform_handover(
        _plan(lab, "0.2.0", old_app.pid, timeout_s=10),
        lab.layout,
        state_dir_of(lab.root),
        dict(os.environ),
    )
    try:
        assert result.outcome == "rolled_back"
        assert "exited with code 3" in result.message
        assert "its files could not be moved aside" in result.message
        assert lab.layout.installed_version() == INSTALLED
        assert read_outcome(state_dir_of(lab.root)) == result
        assert result.pid is not None and psutil.pid_exists(result.pid)
    finally:
        _finish(trial)
        stop_pid(result.pid)


def test_a_reused_pid_is_not_taken_for_the_app(
    lab: UpdateLab, old_app: subprocess.Popen[bytes]
) -> None:
    """The app has gone and another process got its pid: the handover does not wait for it."""
    _prepared(lab, "0.2.0", "starts")
    started = psutil.Process(old_app.pid).create_time()
    plan = HandoverPlan(
        str(lab.root),
        "0.2.0",
        INSTALLED,
        old_app.pid,
        quit_timeout_s=60,
        wait_created=started - 100,
    )
    result, trial = perform_handover(plan, lab.layout, state_dir_of(lab.root), dict(os.environ))
    try:
        assert result.outcome == "updated", result.message
    finally:
        _finish(trial)


def test_an_app_that_quits_late_is_started_again(
    lab: UpdateLab, old_app: subprocess.Popen[bytes]
) -> None:
    _prepared(lab, "0.2.0", "starts")
    state = state_dir_of(lab.root)
    plan = HandoverPlan(
        str(lab.root),
        "0.2.0",
        INSTALLED,
        old_app.pid,
        args=["serve"],
        quit_timeout_s=0.3,
        wait_created=psutil.Process(old_app.pid).create_time(),
        restart_wait_s=60,
    )
    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(perform_handover, plan, lab.layout, state, dict(os.environ))
        try:
            # Past the quit deadline the outcome is saved; the app then quits after all.
            deadline = time.monotonic() + 30
            while read_outcome(state, consume=False) is None and not done.done():
                assert time.monotonic() < deadline, "no outcome saved"
                time.sleep(0.02)
        finally:
            old_app.terminate()
            old_app.wait(10)
        result, trial = done.result(60)
    try:
        assert trial is None
        assert result.outcome == "not_applied"
        assert "did not quit within 0.3 s" in result.message
        assert lab.layout.installed_version() == INSTALLED
        assert result.pid is not None and psutil.pid_exists(result.pid)  # started again
        assert read_outcome(state) == result
    finally:
        stop_pid(result.pid)


def test_the_state_folder_is_private_to_the_user(lab: UpdateLab) -> None:
    state = state_dir_of(lab.root)
    _plan(lab, "0.2.0", None).write(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    # One made before (or by hand) with a wider mode is tightened.
    state.chmod(0o755)
    _plan(lab, "0.2.0", None).write(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    ("loosened", "words"),
    [(".update", "The update state folder"), ("", "The install folder")],
    ids=["state-folder", "install-folder"],
)
def test_a_handover_refuses_a_plan_others_could_have_changed(
    lab: UpdateLab, loosened: str, words: str
) -> None:
    _prepared(lab, "0.2.0", "starts")
    state = state_dir_of(lab.root)
    plan_path = _plan(lab, "0.2.0", None).write(state)
    (lab.root / loosened).chmod(0o777)
    before = tree_fingerprint(lab.root)
    done = subprocess.run(
        handover_program(frozen=False, executable=Path(sys.executable)),
        env={**os.environ, HANDOVER_ENV: str(plan_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "The update handover did not run" in done.stderr
    assert words in done.stderr and "can be changed by other users" in done.stderr
    assert "chmod go-w" in done.stderr
    assert lab.layout.installed_version() == INSTALLED
    assert tree_fingerprint(lab.root) == before
    assert read_outcome(state) is None


def test_a_confirmation_from_another_process_does_not_pass_the_trial(tmp_path: Path) -> None:
    # The program on trial says nothing; another process writes a confirmation in its name.
    program = tmp_path / "silent"
    program.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n", encoding="utf-8")
    program.chmod(0o755)
    trial_file = tmp_path / "trial"
    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(
            run_trial,
            [str(program)],
            trial_file,
            env=dict(os.environ),
            timeout_s=3,
            log=tmp_path / "trial.log",
        )
        # Once the program runs (its log is opened as it starts; the trial file was cleared).
        deadline = time.monotonic() + 30
        while not (tmp_path / "trial.log").exists():
            assert time.monotonic() < deadline, "the trial did not start"
            time.sleep(0.02)
        confirm_trial({TRIAL_ENV: str(trial_file)})  # this process's pid
        outcome = done.result(30)
    assert confirmed_pid(trial_file) == os.getpid()
    assert not outcome.started
    assert "did not confirm its start within 3 s" in outcome.reason
    assert outcome.process is not None and outcome.process.poll() is not None
