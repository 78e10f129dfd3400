"""Every process a run starts ends with the run, whatever it does to escape.

The checks look at the whole process table, not only the agent's children.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.api.conftest import LiveAgent
from tests.integration.api.test_runs import (
    _no_sleepers_left,
    _wait_for_process,
    start,
    wait_done,
)


def _sleeps(tmp_path: Path, count: int) -> list[str]:
    # Durations no other process on the machine has: the test's pid and a counter.
    tag = f"{os.getpid() % 1000}{len(tmp_path.name) % 10}"
    return [f"sleep 20{i}{tag}" for i in range(count)]


@pytest.mark.parametrize("ending", ["cancel", "timeout", "normal end"])
def test_a_process_that_clears_its_environment_and_leaves_the_session_ends_with_the_run(
    agent: LiveAgent, tmp_path: Path, ending: str
) -> None:
    escaped, main = _sleeps(tmp_path, 2)
    # setsid -f: a new session, parent gone at once; env -i: no run marker left.
    line = f"setsid -f env -i {escaped}; {main}"
    if ending == "normal end":
        line = f"setsid -f env -i {escaped}; true"
    body: dict[str, object] = {"shell": line}
    if ending == "timeout":
        body["timeout_s"] = 2
    with agent.client() as client:
        run_id = start(client, **body)["id"]
        survivor = _wait_for_process(escaped)
        assert "ATOM_RUN_ID" not in survivor.environ()
        assert os.getsid(survivor.pid) == survivor.pid  # a session of its own
        if ending == "cancel":
            assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
        expected = {"cancel": "cancelled", "timeout": "timed_out", "normal end": "succeeded"}
        assert wait_done(client, run_id)["status"] == expected[ending]
    assert _no_sleepers_left(escaped), f"{escaped} outlived its run"
    assert _no_sleepers_left(main)


def test_two_runs_at_once_each_end_only_their_own_processes(
    agent: LiveAgent, tmp_path: Path
) -> None:
    first, second, first_main, second_main = _sleeps(tmp_path, 4)
    with agent.client() as client:
        one = start(client, shell=f"setsid -f env -i {first}; {first_main}")["id"]
        two = start(client, shell=f"setsid -f env -i {second}; {second_main}")["id"]
        _wait_for_process(first)
        kept = _wait_for_process(second)
        assert client.post(f"/api/v1/runs/{one}/cancel").status_code == 202
        assert wait_done(client, one)["status"] == "cancelled"
        assert _no_sleepers_left(first)
        assert kept.is_running(), "cancelling one run ended another run's process"
        assert client.get(f"/api/v1/runs/{two}").json()["status"] == "running"
        assert client.post(f"/api/v1/runs/{two}/cancel").status_code == 202
        wait_done(client, two)
    assert _no_sleepers_left(second)


def test_a_command_that_cannot_start_fails_with_the_reason(agent: LiveAgent) -> None:
    with agent.client() as client:
        record = wait_done(client, start(client, argv=["/nonexistent/program", "x"])["id"])
        assert record["status"] == "failed"
        assert (
            record["error"] == "could not start '/nonexistent/program': No such file or directory"
        )
        assert record["exit_code"] is None


def test_peak_memory_counts_the_run_not_its_supervisor(agent: LiveAgent) -> None:
    code = "import time\nblock = bytearray(64 * 1024 * 1024)\ntime.sleep(1.5)"
    with agent.client() as client:
        record = wait_done(client, start(client, argv=["python3", "-c", code])["id"])
        assert record["status"] == "succeeded"
        small = wait_done(client, start(client, argv=["sleep", "1.5"])["id"])
    assert record["peak_rss"] >= 64 * 1024 * 1024
    # A sleep is a few MiB; the interpreter of a supervisor would add about 10.
    assert small["peak_rss"] is None or small["peak_rss"] < 6 * 1024 * 1024
