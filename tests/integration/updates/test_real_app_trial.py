"""The real program on trial: it confirms its start once its agent answers /health.

This is the other half of the stand-ins in the handover tests: the app
itself (``python -m atom_desktop serve``, as a build runs it) started by
the trial code, with the environment a handover gives it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from atom_desktop.updates.trial import confirmed_pid, end_tree, run_trial
from tests.support.agent_process import agent_env

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.mark.e2e
def test_the_app_confirms_its_trial_start(tmp_path: Path) -> None:
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config", NO_KEYRING)
    trial_file = tmp_path / "trial"
    outcome = run_trial(
        [sys.executable, "-m", "atom_desktop", "serve"],
        trial_file,
        env=env,
        timeout_s=60,
        log=tmp_path / "trial.log",
    )
    try:
        assert outcome.started, outcome.reason
        assert outcome.process is not None
        assert confirmed_pid(trial_file) == outcome.process.pid
        assert outcome.process.poll() is None
    finally:
        if outcome.process is not None:
            end_tree(outcome.process, grace_s=15)
    assert "agent running" in (tmp_path / "trial.log").read_text()


@pytest.mark.e2e
def test_an_app_that_cannot_start_fails_its_trial_with_its_own_words(tmp_path: Path) -> None:
    env = agent_env(dict(os.environ), tmp_path / "data", tmp_path / "config", NO_KEYRING)
    env["ATOM_PORT"] = "70000"
    outcome = run_trial(
        [sys.executable, "-m", "atom_desktop", "serve"],
        tmp_path / "trial",
        env=env,
        timeout_s=60,
        log=tmp_path / "trial.log",
    )
    assert not outcome.started
    assert "before confirming its start" in outcome.reason
    assert "ATOM_PORT" in outcome.reason
