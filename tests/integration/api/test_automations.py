"""Automations through the API of a real agent: triggers, steps, approvals, history."""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import LiveAgent, live_agent

ENDED = ("succeeded", "failed", "timed_out", "cancelled", "skipped", "interrupted")


def until(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def create(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/automations", json=spec)
    assert response.status_code == 201, response.text
    return dict(response.json())


def runs(client: httpx.Client, automation_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/automations/{automation_id}/runs", params={"limit": 500})
    response.raise_for_status()
    return list(response.json()["items"])


def first_ended_run(client: httpx.Client, automation_id: str) -> dict[str, Any]:
    """The first run of ``automation_id`` to end (for runs a trigger starts)."""
    ended = until(
        lambda: [r for r in runs(client, automation_id) if r["status"] in ENDED],
        what="a run of the automation to end",
    )
    return dict(ended[0])


def trigger_and_wait(
    client: httpx.Client, automation_id: str, payload: Any = None, timeout: float = 30
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/automations/{automation_id}/trigger", json={"payload": payload}
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    return wait_run(client, automation_id, run_id, timeout)


def wait_run(
    client: httpx.Client, automation_id: str, run_id: str, timeout: float = 30
) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        run = client.get(f"/api/v1/automations/{automation_id}/runs/{run_id}").json()
        return run if run["status"] in ENDED else None

    return dict(until(ended, timeout, f"run {run_id} to end"))


def test_crud_enable_disable_and_validation(agent: LiveAgent) -> None:
    reader, automator = agent.make_token("read"), agent.make_token("automate")
    spec = {
        "name": "tick",
        "triggers": [{"type": "cron", "expression": "0 9 * * 1-5", "timezone": "Europe/Berlin"}],
        "steps": [{"type": "shell", "shell": "echo tick"}],
    }
    with agent.client(reader) as client:
        assert client.post("/api/v1/automations", json=spec).status_code == 403
    with agent.client(automator) as client:
        # A shell step without approval would make 'automate' a way around 'run'.
        refused = client.post("/api/v1/automations", json=spec)
        assert refused.status_code == 403 and "'run'" in refused.json()["error"]["message"]
        asking = create(client, {**spec, "approval": "ask"})
        assert client.post(f"/api/v1/automations/{asking['id']}/trigger").status_code == 202
        client.delete(f"/api/v1/automations/{asking['id']}")
    automator = agent.make_token("automate", "run")
    with agent.client(automator) as client:
        made = create(client, spec)
        assert made["enabled"] and made["next_fire_at"] is not None
        nine = datetime.fromisoformat(made["next_fire_at"]).astimezone()
        assert nine > datetime.now(UTC)
        listed = client.get("/api/v1/automations").json()["items"]
        assert [a["id"] for a in listed] == [made["id"]]

        off = client.post(f"/api/v1/automations/{made['id']}/disable").json()
        assert not off["enabled"] and off["next_fire_at"] is None
        on = client.post(f"/api/v1/automations/{made['id']}/enable").json()
        assert on["enabled"] and on["next_fire_at"] == made["next_fire_at"]

        changed = client.put(
            f"/api/v1/automations/{made['id']}", json={**spec, "name": "tock"}
        ).json()
        assert changed["name"] == "tock" and changed["spec"]["name"] == "tock"

        for bad, field, words in (
            ({"type": "cron", "expression": "0 25 * * *"}, "triggers[0].expression", "0 25"),
            (
                {"type": "interval", "seconds": 5, "timezone": "Mars/Base"},
                "triggers[0].timezone",
                "IANA",
            ),
            (
                {"type": "file", "paths": ["/tmp"], "include": ["[abc"]},
                "triggers[0].include[0]",
                "[",
            ),
            ({"type": "file", "paths": ["relative/dir"]}, "triggers[0].paths[0]", "absolute"),
        ):
            response = client.post("/api/v1/automations", json={**spec, "triggers": [bad]})
            assert response.status_code == 422, (bad, response.text)
            error = response.json()["error"]
            assert error["field"] == field, error
            assert words in error["message"], error

        assert client.delete(f"/api/v1/automations/{made['id']}").status_code == 204
        assert client.get(f"/api/v1/automations/{made['id']}").status_code == 404
        assert client.get("/api/v1/automations").json()["items"] == []
    # The change went to the sync outbox with the automation.
    ops = [e.op for e in agent.runtime.store.outbox.pending(limit=100) if e.entity == "automation"]
    assert ops == ["create", "delete", "create", "update", "update", "update", "delete"]


def test_interval_fires_on_time_in_real_time(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "every second",
                "triggers": [{"type": "interval", "seconds": 1}],
                "steps": [{"type": "shell", "shell": "true"}],
                "overlap": "parallel",
            },
        )
        created = datetime.fromisoformat(made["created_at"])
        done = until(
            lambda: [r for r in runs(client, made["id"]) if r["status"] == "succeeded"][2:],
            what="three scheduled runs",
        )
        assert done
        scheduled = sorted(
            datetime.fromisoformat(r["trigger"]["time"]) for r in runs(client, made["id"])
        )
        # Each run is for a whole number of seconds after the automation was made,
        # and it was started within a second of that time.
        for when in scheduled:
            offset = (when - created).total_seconds()
            assert abs(offset - round(offset)) < 1e-3 and offset >= 1
        for run in runs(client, made["id"]):
            lateness = datetime.fromisoformat(run["created_at"]) - datetime.fromisoformat(
                run["trigger"]["time"]
            )
            assert lateness.total_seconds() < 1.0, run


def test_six_field_cron_fires_every_second_second(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "cron",
                "triggers": [{"type": "cron", "expression": "*/2 * * * * *"}],
                "steps": [{"type": "notify", "title": "tick"}],
            },
        )
        until(lambda: len(runs(client, made["id"])) >= 2, what="two cron runs")
        times = [datetime.fromisoformat(r["trigger"]["time"]) for r in runs(client, made["id"])]
        assert all(t.second % 2 == 0 and t.microsecond == 0 for t in times)


def test_steps_pass_results_on_and_failure_runs_on_failure_steps(
    agent: LiveAgent, tmp_path: Path
) -> None:
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "pipeline",
                "steps": [
                    {
                        "type": "shell",
                        "name": "greet",
                        "shell": 'printf "%s" "$TRIGGER_PAYLOAD"',
                        "cwd": str(tmp_path),
                    },
                    {
                        "type": "task",
                        "name": "todo",
                        "fields": {"title": "from ${steps.greet.stdout}", "tags": ["auto"]},
                    },
                    {"type": "shell", "shell": 'test "$PREVIOUS_STDOUT" = "{\\"who\\": 1}"'},
                    {
                        "type": "task",
                        "action": "update",
                        "task_id": "${steps.todo.task_id}",
                        "fields": {"status": "doing", "notes": "${automation.name}"},
                    },
                    {"type": "shell", "name": "boom", "shell": "exit 3"},
                    {"type": "notify", "title": "never reached"},
                ],
                "on_failure": [
                    {"type": "notify", "title": "failed: ${steps.boom.exit_code}"},
                ],
            },
        )
        run = trigger_and_wait(client, made["id"], payload={"who": 1})
        assert run["status"] == "failed"
        assert run["trigger_kind"] == "api" and run["trigger"]["payload"] == {"who": 1}
        steps = run["steps"]
        assert [s["status"] for s in steps] == [
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded",
            "failed",
            "succeeded",
        ]
        assert steps[0]["stdout"] == '{"who": 1}'
        assert steps[4]["exit_code"] == 3 and "exit code 3" in steps[4]["error"]
        assert steps[5]["title"] == "failed: 3"  # the on_failure step, filled in
        task = client.get(f"/api/v1/tasks/{steps[1]['task_id']}").json()
        assert task["title"] == 'from {"who": 1}' and task["tags"] == ["auto"]
        assert task["status"] == "doing" and task["notes"] == "pipeline"
        # A shell step is an ordinary runner run: its output is stored with it.
        runner_run = client.get(f"/api/v1/runs/{steps[0]['run_id']}").json()
        assert runner_run["source"] == "automation"
        assert runner_run["requester"] == "automation:pipeline"


def test_the_deny_list_still_applies_to_shell_steps(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(client, {"name": "bad", "steps": [{"type": "shell", "shell": "rm -rf ~"}]})
        run = trigger_and_wait(client, made["id"])
        assert run["status"] == "failed"
        assert "rm-root" in run["steps"][0]["error"]


def test_approval_ask_then_approve_runs_and_deny_records(agent: LiveAgent, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    automator = agent.make_token("automate")
    with agent.client() as owner, agent.client(automator) as client:
        made = create(
            client,
            {
                "name": "careful",
                "approval": "ask",
                "steps": [{"type": "shell", "shell": f"touch {marker}"}],
            },
        )
        started = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        pending = until(
            lambda: client.get("/api/v1/approvals").json()["items"], what="a pending approval"
        )
        assert pending[0]["command"] == f"touch {marker}"
        assert pending[0]["automation_run_id"] == started["id"]
        waiting = client.get(f"/api/v1/automations/{made['id']}/runs/{started['id']}").json()
        assert waiting["status"] == "waiting_approval"
        assert not marker.exists()
        # The token that writes automations cannot approve its own commands.
        approve = f"/api/v1/approvals/{pending[0]['id']}/approve"
        assert client.post(approve).status_code == 403
        decided = owner.post(approve).json()
        assert decided["status"] == "approved" and decided["decided_by"] == "owner"
        run = wait_run(client, made["id"], started["id"])
        assert run["status"] == "succeeded" and marker.exists()
        assert owner.post(approve).status_code == 409  # decided once

        marker.unlink()
        second = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        pending = until(
            lambda: client.get("/api/v1/approvals").json()["items"], what="a second approval"
        )
        assert client.post(f"/api/v1/approvals/{pending[0]['id']}/deny").status_code == 200
        run = wait_run(client, made["id"], second["id"])
        assert run["status"] == "failed"
        assert run["steps"][0]["status"] == "denied" and "denied" in run["steps"][0]["error"]
        assert not marker.exists()
        history = client.get("/api/v1/approvals", params={"status": "all"}).json()["items"]
        assert [a["status"] for a in history] == ["denied", "approved"]


def test_an_unanswered_approval_expires(agent: LiveAgent, tmp_path: Path) -> None:
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "ignored",
                "approval": "ask",
                "approval_timeout_s": 1,
                "steps": [{"type": "shell", "shell": f"touch {tmp_path / 'x'}"}],
            },
        )
        run = trigger_and_wait(client, made["id"])
        assert run["status"] == "failed" and run["steps"][0]["status"] == "denied"
        assert "expired" in run["steps"][0]["error"]
        expired = client.get("/api/v1/approvals", params={"status": "expired"}).json()["items"]
        assert len(expired) == 1 and expired[0]["decided_by"] == "timeout"
        assert not (tmp_path / "x").exists()


def test_approval_deny_mode_refuses_shell_steps(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(
            client,
            {"name": "no", "approval": "deny", "steps": [{"type": "shell", "shell": "true"}]},
        )
        run = trigger_and_wait(client, made["id"])
        assert run["steps"][0]["status"] == "denied" and run["status"] == "failed"


def test_overlap_skip_records_the_skipped_trigger(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(client, {"name": "slow", "steps": [{"type": "shell", "shell": "sleep 30"}]})
        first = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        second = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        assert second["status"] == "skipped" and "overlap" in second["error"]
        cancelled = client.post(
            f"/api/v1/automations/{made['id']}/runs/{first['id']}/cancel"
        ).json()
        assert cancelled["status"] == "cancelled"
        # Its command was cancelled with it.
        until(
            lambda: (
                client.get("/api/v1/runs", params={"status": ["queued", "running"]}).json()["items"]
                == []
            ),
            what="the sleep to be cancelled",
        )
        done = client.get("/api/v1/runs").json()["items"]
        assert [r["status"] for r in done if r["shell"] == "sleep 30"] == ["cancelled"]
        # The history links the command that was cut short.
        assert cancelled["steps"][-1]["run_id"] == done[0]["id"]


def test_overlap_queue_runs_one_after_another(agent: LiveAgent, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "queued",
                "overlap": "queue",
                "steps": [
                    {
                        "type": "shell",
                        "shell": f'echo "start $TRIGGER_PAYLOAD" >> {log}; sleep 0.3; '
                        f'echo "end $TRIGGER_PAYLOAD" >> {log}',
                    }
                ],
            },
        )
        ids = [
            client.post(f"/api/v1/automations/{made['id']}/trigger", json={"payload": n}).json()[
                "id"
            ]
            for n in range(3)
        ]
        for run_id in ids:
            assert wait_run(client, made["id"], run_id)["status"] == "succeeded"
    assert log.read_text().split("\n")[:-1] == [
        "start 0",
        "end 0",
        "start 1",
        "end 1",
        "start 2",
        "end 2",
    ]


def test_file_trigger_passes_a_hostile_name_as_one_literal_argument(
    agent: LiveAgent, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "args"
    inbox.mkdir()
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "inbox",
                "triggers": [
                    {
                        "type": "file",
                        "paths": [str(inbox)],
                        "events": ["created"],
                        "include": ["*.txt"],
                        "debounce_s": 0.2,
                    }
                ],
                "steps": [
                    {
                        "type": "shell",
                        "shell": f'for a in "$@"; do printf "[%s]\\n" "$a"; done > {out}; '
                        f'tr "\\0" "\\n" < "$TRIGGER_PATHS_FILE" >> {out}',
                    }
                ],
            },
        )
        hostile = inbox / "a; rm -rf ~ #.txt"
        hostile.write_text("x")
        (inbox / "ignored.pdf").write_text("x")
        run = first_ended_run(client, made["id"])
        assert run["status"] == "succeeded", run
        assert run["trigger"]["paths"] == [str(hostile)]
    assert out.read_text() == f"[{hostile}]\n{hostile}\n"


def test_restart_keeps_automations_history_and_next_fire_time(settings: Settings) -> None:
    spec = {
        "name": "weekly",
        "triggers": [{"type": "cron", "expression": "30 8 * * 1", "timezone": "Asia/Tokyo"}],
        "steps": [{"type": "notify", "title": "hello"}],
    }
    with live_agent(settings) as first, first.client() as client:
        made = create(client, spec)
        run = trigger_and_wait(client, made["id"])
    with live_agent(settings) as second, second.client() as client:
        again = client.get(f"/api/v1/automations/{made['id']}").json()
        assert again["next_fire_at"] == made["next_fire_at"]
        assert again["spec"] == made["spec"]
        assert [r["id"] for r in runs(client, made["id"])] == [run["id"]]
        assert again["last_run"]["status"] == "succeeded"


@pytest.mark.parametrize("policy", ["coalesce", "all", "skip"])
def test_missed_run_policy_after_the_agent_was_stopped(settings: Settings, policy: str) -> None:
    spec = {
        "name": f"missed-{policy}",
        "triggers": [{"type": "interval", "seconds": 1}],
        "steps": [{"type": "notify", "title": "tick"}],
        "missed": policy,
        "misfire_grace_s": 0.5,
        # The default overlap policy (skip) must not swallow the catch-up runs of "all".
    }
    with live_agent(settings) as first, first.client() as client:
        made = create(client, spec)
        stopped_at = datetime.now(UTC)
        before = {r["id"] for r in runs(client, made["id"])}
    time.sleep(3.5)  # the agent is stopped across at least three scheduled times
    with live_agent(settings) as second, second.client() as client:
        restarted_at = datetime.now(UTC)
        missed = client.get(f"/api/v1/automations/{made['id']}/missed").json()["items"]

        def late_runs() -> list[dict[str, Any]]:
            return [
                r
                for r in runs(client, made["id"])
                if r["id"] not in before and r["trigger"].get("late")
            ]

        def all_ended() -> list[dict[str, Any]] | None:
            found = late_runs()
            done = len(found) >= len(missed) and all(r["status"] in ENDED for r in found)
            return found if done else None

        # The catch-up runs start with the agent; some may still be queued.
        late = until(all_ended, what="the catch-up runs to end") if policy == "all" else late_runs()
    times = sorted(datetime.fromisoformat(m["scheduled_at"]) for m in missed)
    stopped_times = [t for t in times if stopped_at < t < restarted_at]
    assert len(stopped_times) >= 3, missed
    assert {m["reason"] for m in missed} == {"agent_stopped"}
    expected_action = {"coalesce": "coalesced", "all": "ran", "skip": "skipped"}[policy]
    assert {m["action"] for m in missed} == {expected_action}
    late_times = sorted(datetime.fromisoformat(r["trigger"]["time"]) for r in late)
    if policy == "all":
        assert late_times == times
        assert {r["status"] for r in late} == {"succeeded"}
    elif policy == "coalesce":
        assert late_times == [times[-1]]
    else:
        assert late_times == []


def test_a_paused_agent_records_what_it_skipped(agent: LiveAgent) -> None:
    runner = agent.runtime.runner
    with agent.client() as client:
        agent.host.call(runner.async_pause()).result(10)
        try:
            made = create(
                client,
                {
                    "name": "paused",
                    "triggers": [{"type": "interval", "seconds": 0.5}],
                    "steps": [{"type": "notify", "title": "tick"}],
                },
            )
            missed = until(
                lambda: client.get(f"/api/v1/automations/{made['id']}/missed").json()["items"][1:],
                what="two skipped times",
            )
            assert {(m["reason"], m["action"]) for m in missed} == {("paused", "skipped")}
            assert runs(client, made["id"]) == []
        finally:
            agent.host.call(runner.async_resume()).result(10)
        until(lambda: runs(client, made["id"]), what="a run after resuming")


def test_history_has_every_run_with_its_trigger(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(client, {"name": "h", "steps": [{"type": "notify", "title": "n"}]})
        ids = [trigger_and_wait(client, made["id"], payload=n)["id"] for n in range(3)]
        listed = runs(client, made["id"])
        assert [r["id"] for r in listed] == list(reversed(ids))
        assert [r["trigger"]["payload"] for r in listed] == [2, 1, 0]
        page = client.get(f"/api/v1/automations/{made['id']}/runs", params={"limit": 2}).json()
        assert page["next_before"] == ids[1]
        assert json.dumps(listed)  # plain JSON all the way down


def test_http_steps_fill_references_check_status_and_time_out(agent: LiveAgent) -> None:
    api = f"{agent.base_url}/api/v1"
    auth = {"Authorization": f"Bearer {agent.make_token('admin')}"}
    # A server that takes the connection and never answers.
    with socket.socket() as silent, agent.client() as client:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        made = create(
            client,
            {
                "name": "web",
                "steps": [
                    {"type": "http", "name": "health", "url": f"{api}/health"},
                    {
                        "type": "http",
                        "name": "make",
                        "method": "POST",
                        "url": f"{api}/tasks",
                        "headers": auth,
                        "json": {
                            "title": "health ${steps.health.json.status}, ${trigger.payload.x}"
                        },
                        "expect_status": [201],
                    },
                    {
                        "type": "http",
                        "name": "lookup",
                        "url": api + "/tasks/${trigger.payload.x}",
                        "headers": auth,
                        "continue_on_failure": True,
                    },
                    {
                        "type": "http",
                        "url": f"http://127.0.0.1:{silent.getsockname()[1]}/",
                        "timeout_s": 0.5,
                    },
                ],
            },
        )
        run = trigger_and_wait(client, made["id"], payload={"x": "a b?c=1#d"})
    health, make, lookup, stuck = run["steps"]
    assert health["status"] == "succeeded" and health["http_status"] == 200
    assert make["status"] == "succeeded" and make["json"]["title"] == "health ok, a b?c=1#d"
    # The payload went into the path as one escaped segment: no query, no fragment.
    assert lookup["status"] == "failed" and lookup["http_status"] == 404
    assert "a b?c=1#d" in lookup["json"]["error"]["message"]
    assert stuck["status"] == "failed" and "timed out" in stuck["error"]
    assert run["status"] == "failed"


def test_a_stored_automation_that_no_longer_validates_does_not_stop_the_rest(
    settings: Settings,
) -> None:
    good = {
        "name": "good",
        "triggers": [{"type": "cron", "expression": "0 8 * * *"}],
        "steps": [{"type": "notify", "title": "n"}],
    }
    with live_agent(settings) as first, first.client() as client:
        kept = create(client, good)
        # As an older or newer version might have left them: a cron this one
        # refuses, and a definition that is not one any more.
        repo = first.runtime.store.automations
        bad_cron = repo.create(
            {**good, "name": "bad cron", "triggers": [{"type": "cron", "expression": "99 * * * *"}]}
        )
        unreadable = repo.create({"name": "unreadable", "steps": "nope"})
    with live_agent(settings) as second, second.client() as client:
        listed = {a["name"]: a for a in client.get("/api/v1/automations").json()["items"]}
        assert listed["good"]["id"] == kept["id"] and listed["good"]["next_fire_at"]
        # Listed (so it can be fixed or deleted), but nothing is scheduled.
        assert listed["bad cron"]["next_fire_at"] is None
        assert "unreadable" not in listed
        problems = [
            e.payload.automation_id  # type: ignore[attr-defined]
            for e in second.runtime.bus.since(0)[0]
            if e.kind == "automation.problem"
        ]
        assert sorted(problems) == sorted([bad_cron.id, unreadable.id])
        shown = client.get(f"/api/v1/automations/{unreadable.id}")
        assert shown.status_code == 400 and "Delete it" in shown.json()["error"]["message"]
        assert client.delete(f"/api/v1/automations/{unreadable.id}").status_code == 204
        fixed = client.put(f"/api/v1/automations/{bad_cron.id}", json={**good, "name": "fixed"})
        assert fixed.status_code == 200 and fixed.json()["next_fire_at"]


def test_shell_arguments_are_for_automation_steps_only(agent: LiveAgent) -> None:
    with agent.client() as client:
        response = client.post("/api/v1/runs", json={"shell": 'rm -rf "$@"', "args": ["/"]})
        # Not a field of the API's run request at all (the document has none).
        assert response.status_code == 422
        assert "automation" in response.json()["error"]["message"]


class _Big(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(200_000))
        self.end_headers()
        self.wfile.write(b"x" * 200_000)

    def log_message(self, *args: object) -> None:
        pass


def test_an_http_step_keeps_only_the_start_of_a_huge_answer(agent: LiveAgent) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Big)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with agent.client() as client:
            made = create(
                client,
                {
                    "name": "big",
                    "steps": [
                        {"type": "http", "url": f"http://127.0.0.1:{server.server_port}/big"}
                    ],
                },
            )
            run = trigger_and_wait(client, made["id"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    step = run["steps"][0]
    assert step["status"] == "succeeded" and step["http_status"] == 200
    assert step["body"] == "x" * 65536 + "\n[cut off at 64 KiB]"
    assert "json" not in step


def test_a_file_name_that_is_not_utf8_reaches_the_step_byte_for_byte(
    agent: LiveAgent, tmp_path: Path
) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "args"
    inbox.mkdir()
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "latin-1",
                "triggers": [{"type": "file", "paths": [str(inbox)], "debounce_s": 0.2}],
                "steps": [{"type": "shell", "shell": f'printf "%s" "$1" > {out}'}],
            },
        )
        name = os.fsencode(inbox) + b"/caf\xe9.txt"
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY))
        run = first_ended_run(client, made["id"])
        # The history shows it (undecodable bytes as U+FFFD) instead of failing.
        assert run["status"] == "succeeded", (run["error"], run["steps"])
        assert run["trigger"]["paths"] == [f"{inbox}/caf\ufffd.txt"]
    assert out.read_bytes() == name


def test_a_run_cancelled_while_it_waits_in_the_queue_is_recorded(agent: LiveAgent) -> None:
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "one at a time",
                "overlap": "queue",
                "steps": [{"type": "shell", "shell": "sleep 30"}],
            },
        )
        first = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        waiting = client.post(f"/api/v1/automations/{made['id']}/trigger").json()
        assert waiting["status"] == "queued"
        cancel = f"/api/v1/automations/{made['id']}/runs/{{}}/cancel"
        cancelled = client.post(cancel.format(waiting["id"])).json()
        assert cancelled["status"] == "cancelled" and cancelled["ended_at"] is not None
        assert client.post(cancel.format(first["id"])).json()["status"] == "cancelled"


def test_an_http_step_with_a_malformed_address_fails_saying_so(
    agent: LiveAgent, caplog: pytest.LogCaptureFixture
) -> None:
    # Each passes the spec's early check (an http:// start, or a reference
    # that could make one) and is malformed only as a whole.
    addresses = ["http://[", "http://[::1", "http://a:x/", "${trigger.payload.u}"]
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "malformed",
                "steps": [
                    {"type": "http", "url": url, "continue_on_failure": True} for url in addresses
                ],
            },
        )
        run = trigger_and_wait(client, made["id"], payload={"u": "http://[::1"})
    assert len(run["steps"]) == len(addresses)
    for step in run["steps"]:
        assert step["status"] == "failed", step
        assert "is not a valid http:// or https:// address" in step["error"], step
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_header_or_variable_that_is_only_the_sync_mask_fails_its_step(
    agent: LiveAgent,
) -> None:
    # What another device's automation looks like here: its secrets arrive as ***.
    with agent.client() as client:
        made = create(
            client,
            {
                "name": "pulled",
                "steps": [
                    {
                        "type": "http",
                        "url": "http://127.0.0.1:9/",
                        "headers": {"Authorization": "***"},
                        "continue_on_failure": True,
                    },
                    {"type": "shell", "shell": "true", "env": {"API_KEY": "***", "MODE": "a"}},
                ],
            },
        )
        run = trigger_and_wait(client, made["id"])
    http_step, shell_step = run["steps"]
    assert http_step["status"] == "failed" and "header Authorization" in http_step["error"]
    assert "http_status" not in http_step  # no request was sent
    assert shell_step["status"] == "failed"
    assert "environment variable API_KEY" in shell_step["error"]
    assert "MODE" not in shell_step["error"] and "run_id" not in shell_step
    assert "secrets are not synced" in shell_step["error"]
