"""Stopping the agent while runs are going: each run's end is stored as it happened."""

from __future__ import annotations

import logging

import pytest

from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import live_agent
from tests.integration.api.test_runs import _wait_for_process, start


def test_a_run_that_ends_while_another_is_being_cancelled_does_not_break_the_stop(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    slow = settings.model_copy(update={"kill_grace_s": 2.0})
    # The first run ignores SIGTERM (its children inherit that), so the stop's
    # cancel of it waits out the grace period; the second ends by itself
    # meanwhile, and is no longer there to be cancelled when its turn comes.
    marker = "sleep 7.3031"
    with live_agent(slow) as agent, agent.client() as client:
        stubborn = start(client, shell=f"trap '' TERM; {marker}; {marker}")["id"]
        _wait_for_process(marker)
        brief = start(client, shell="sleep 0.5")["id"]
        _wait_for_process("sleep 0.5")
    # Every record as the stop left it, read by the next start.
    with live_agent(slow) as agent, agent.client() as client:
        assert client.get(f"/api/v1/runs/{stubborn}").json()["status"] == "cancelled"
        assert client.get(f"/api/v1/runs/{brief}").json()["status"] == "succeeded"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
