"""Automations against a real agent process: the CLI, and a SIGSTOP across scheduled times."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.agent_process import AgentProcess
from tests.support.agent_process import run_cli as cli

pytestmark = pytest.mark.e2e


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_automations_from_the_command_line(
    running: tuple[AgentProcess, dict[str, str]], tmp_path: Path
) -> None:
    _, env = running
    spec = {"name": "hello", "steps": [{"type": "shell", "shell": 'echo "hi $TRIGGER_PAYLOAD"'}]}
    added = cli(env, "automations", "add", "-", stdin=json.dumps(spec))
    assert added.returncode == 0, added.stderr
    automation_id = added.stdout.strip()

    listing = cli(env, "automations", "list")
    assert listing.stdout.splitlines()[0].split() == [
        "id",
        "state",
        "next",
        "run",
        "last",
        "result",
        "name",
    ]
    assert automation_id in listing.stdout and "hello" in listing.stdout

    ran = cli(env, "automations", "run", automation_id, "--payload", '"there"', "--wait", "--json")
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "succeeded" and run["steps"][0]["stdout"] == 'hi "there"\n'

    assert cli(env, "automations", "disable", automation_id).stdout == "disabled: hello\n"
    assert not cli_json(env, "automations", "show", automation_id)["enabled"]
    assert cli(env, "automations", "enable", automation_id).returncode == 0

    history = cli(env, "automations", "history", automation_id)
    assert run["id"] in history.stdout and "succeeded" in history.stdout

    bad = cli(env, "automations", "run", automation_id, "--payload", "{nope")
    assert bad.returncode == 1 and "not valid JSON" in bad.stderr
    (tmp_path / "bad.json").write_text(
        json.dumps({**spec, "triggers": [{"type": "cron", "expression": "61 * * * *"}]})
    )
    refused = cli(env, "automations", "add", str(tmp_path / "bad.json"))
    assert refused.returncode == 1 and "triggers[0].expression" in refused.stderr
    failing = {"name": "fails", "steps": [{"type": "shell", "shell": "exit 4"}]}
    failing_id = cli(env, "automations", "add", "-", stdin=json.dumps(failing)).stdout.strip()
    failed = cli(env, "automations", "run", failing_id, "--wait")
    assert failed.returncode == 1
    # The step and the run say what happened in plain words.
    assert "  0: failed (The command failed with exit code 4.)\n" in failed.stdout
    failed_history = cli(env, "automations", "history", failing_id)
    assert failed_history.stdout.splitlines()[2].endswith("The command failed with exit code 4.")


def test_a_stopped_agent_process_records_the_times_it_slept_through(
    running: tuple[AgentProcess, dict[str, str]],
) -> None:
    agent, env = running
    spec = {
        "name": "sleeper",
        "triggers": [{"type": "interval", "seconds": 1}],
        "steps": [{"type": "notify", "title": "tick"}],
        "missed": "all",
        "misfire_grace_s": 0.5,
        "overlap": "parallel",
    }
    automation_id = cli(env, "automations", "add", "-", stdin=json.dumps(spec)).stdout.strip()
    assert automation_id
    os.kill(agent.proc.pid, signal.SIGSTOP)
    stopped_at = datetime.now(UTC)
    try:
        time.sleep(3.5)  # stopped across at least three scheduled times
    finally:
        os.kill(agent.proc.pid, signal.SIGCONT)
    resumed_at = datetime.now(UTC)
    deadline = time.monotonic() + 20
    while True:
        runs = cli_json(env, "automations", "history", automation_id, "--limit", "100")["items"]
        missed = cli_json(env, "automations", "missed", automation_id, "--limit", "100")["items"]
        late = [r for r in runs if r["trigger"].get("late")]
        if (len(late) >= 3 and len(missed) == len(late)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    late_times = sorted(datetime.fromisoformat(r["trigger"]["time"]) for r in late)
    assert len([t for t in late_times if stopped_at < t < resumed_at]) >= 3, runs
    # Every missed time was recorded as late, and under "all" each one ran.
    missed_times = sorted(datetime.fromisoformat(m["scheduled_at"]) for m in missed)
    assert missed_times == late_times
    assert {(m["reason"], m["action"]) for m in missed} == {("late", "ran")}
    assert "late" in cli(env, "automations", "missed", automation_id).stdout
