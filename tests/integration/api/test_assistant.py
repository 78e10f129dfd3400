"""The assistant through the agent's own API: a real agent on loopback, a real store and
runner, and the fake OpenAI-compatible server (a fake, see its module) as the provider.

Approval is enforced on the agent: a plan's step runs only approved (by the
digest it was shown with) or when its kind is set to ``auto``, and the deny
list wins over both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from atom_desktop.assistant.plan import StepKind
from atom_desktop.assistant.planner import TOOL_NAME
from atom_desktop.client.sse import sse_events
from atom_desktop.config.settings import Settings
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.support import fake_openai_server as fake
from tests.support.scripted_http_server import ScriptedServer

#: Secret-shaped text a run prints: the redactor must keep it out of every prompt.
LEAK = "password=hunter2-do-not-send"


@pytest.fixture
def provider() -> Iterator[ScriptedServer]:
    # A local server that asks for no key, as Ollama or llama.cpp's.
    with fake.fake_openai_server(None) as server:
        yield server


def assistant_settings(settings: Settings, server: ScriptedServer, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "assistant_provider": "openai_compatible",
            "assistant_base_url": server.base_url + "/v1",
            "assistant_model": fake.MODEL,
            **more,
        }
    )


def answer(server: ScriptedServer, plan: dict[str, Any], *, tool: bool = False) -> None:
    text = json.dumps(plan)
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    if tool:
        server.add(fake.stream(tool=TOOL_NAME, arguments=pieces))
    else:
        server.add(fake.stream(pieces))


def ask(agent: LiveAgent, text: str, **body: Any) -> list[tuple[str, Any]]:
    with (
        agent.client() as client,
        client.stream("POST", "/api/v1/assistant/messages", json={"text": text, **body}) as r,
    ):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(r.iter_lines()))


def plan_of(events: list[tuple[str, Any]]) -> dict[str, Any]:
    plans = [data for kind, data in events if kind == "plan"]
    assert len(plans) == 1, events
    return dict(plans[0])


def wait_for_plan(agent: LiveAgent, plan_id: str, states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    with agent.client() as client:
        while True:
            plan = client.get(f"/api/v1/assistant/plans/{plan_id}").json()
            if plan["state"] in states:
                return dict(plan)
            assert time.monotonic() < deadline, plan
            time.sleep(0.05)


def test_a_request_streams_its_reply_and_plan_and_keeps_the_conversation(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(
        provider,
        {"reply": "I will run the tests.", "steps": [{"type": "shell", "shell": "echo tested"}]},
        tool=True,
    )
    with live_agent(assistant_settings(settings, provider)) as agent:
        events = ask(agent, "run the tests")
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "conversation"
        assert kinds[-3:] == ["plan", "message", "done"]
        replies = [data["text"] for kind, data in events if kind == "reply"]
        assert len(replies) > 1  # streamed, not in one piece at the end
        assert "".join(replies) == "I will run the tests."
        plan = plan_of(events)
        assert plan["state"] == "waiting"
        (step,) = plan["steps"]
        assert step["kind"] == "shell"
        assert step["commands"] == ["echo tested"]
        assert step["needs_approval"] is True
        assert step["status"] == "proposed"
        conversation_id = events[0][1]["conversation_id"]
        with agent.client() as client:
            listed = client.get("/api/v1/assistant/conversations").json()["items"]
            assert [(c["id"], c["message_count"]) for c in listed] == [(conversation_id, 2)]
            detail = client.get(f"/api/v1/assistant/conversations/{conversation_id}").json()
        request, reply = detail["messages"]
        assert (request["role"], request["text"]) == ("user", "run the tests")
        assert (reply["role"], reply["text"], reply["plan_id"]) == (
            "assistant",
            "I will run the tests.",
            plan["id"],
        )
        assert [m["role"] for m in request["sent"]] == ["system", "user"]
        assert detail["plans"][0]["id"] == plan["id"]


def test_a_plans_shell_step_runs_after_approval_as_source_ai(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"steps": [{"type": "shell", "shell": "echo from-the-plan"}]})
    with live_agent(assistant_settings(settings, provider)) as agent:
        plan = plan_of(ask(agent, "say hi"))
        step = plan["steps"][0]
        with agent.client() as client:
            approved = client.post(
                f"/api/v1/assistant/plans/{plan['id']}/approve",
                json={"steps": [{"index": 0, "digest": step["digest"]}]},
            )
            assert approved.status_code == 200, approved.text
        done = wait_for_plan(agent, plan["id"], {"done", "failed"})
        assert done["state"] == "done"
        ran = done["steps"][0]
        assert ran["status"] == "succeeded"
        assert ran["decided_by"] == "owner"
        assert ran["result"]["stdout"] == "from-the-plan\n"
        with agent.client() as client:
            run = client.get(f"/api/v1/runs/{ran['run_id']}").json()
        assert run["source"] == "ai"
        assert run["shell"] == "echo from-the-plan"


STEPS: dict[StepKind, dict[str, Any]] = {
    StepKind.SHELL: {"type": "shell", "shell": "echo matrix"},
    StepKind.HTTP: {"type": "http", "url": "http://127.0.0.1:{port}/api/v1/health"},
    StepKind.NOTIFY: {"type": "notify", "title": "Matrix"},
    StepKind.TASK_CREATE: {"type": "task_create", "title": "From the matrix"},
    StepKind.TASK_UPDATE: {"type": "task_update", "task_id": "{task}", "changes": {"priority": 3}},
    StepKind.AUTOMATION: {
        "type": "automation",
        "automation": {"name": "matrix", "steps": [{"type": "shell", "shell": "echo a"}]},
    },
}


def _filled(kind: StepKind, agent: LiveAgent, task_id: str) -> dict[str, Any]:
    text = json.dumps(STEPS[kind]).replace("{port}", str(agent.port)).replace("{task}", task_id)
    return dict(json.loads(text))


@pytest.mark.parametrize("auto", [False, True], ids=["approval-needed", "auto"])
def test_no_step_runs_without_approval_unless_its_kind_is_auto(
    settings: Settings, provider: ScriptedServer, auto: bool
) -> None:
    """The matrix: every kind, with its kind set to ``auto`` or not, asked to run unapproved."""
    kinds = list(StepKind)
    auto_kinds = tuple(kinds) if auto else ()
    with live_agent(
        assistant_settings(settings, provider, assistant_auto_kinds=auto_kinds)
    ) as agent:
        with agent.client() as client:
            task_id = client.post("/api/v1/tasks", json={"title": "to change"}).json()["id"]
        for kind in kinds:
            answer(provider, {"steps": [_filled(kind, agent, task_id)]})
            plan = plan_of(ask(agent, f"do {kind}"))
            assert plan["steps"][0]["needs_approval"] is not auto
            with agent.client() as client:
                started = client.post(f"/api/v1/assistant/plans/{plan['id']}/run")
                assert started.status_code == 200, started.text
            # The run is in the background: wait for its end, or for it to settle waiting.
            end = wait_for_plan(agent, plan["id"], {"done", "failed", "waiting"})
            if auto:
                assert end["state"] == "done", (kind, end["steps"])
                assert end["steps"][0]["status"] == "succeeded"
            else:
                assert end["state"] == "waiting", (kind, end)
                assert end["steps"][0]["status"] == "proposed"
                assert end["steps"][0]["started_at"] is None
        with agent.client() as client:
            runs = client.get("/api/v1/runs").json()["items"]
            automations = client.get("/api/v1/automations").json()["items"]
            tasks = client.get("/api/v1/tasks").json()["items"]
        assert any(r["source"] == "ai" for r in runs) is auto
        assert [a["name"] for a in automations] == (["matrix"] if auto else [])
        assert {t["title"] for t in tasks} == (
            {"to change", "From the matrix"} if auto else {"to change"}
        )
        assert next(t for t in tasks if t["id"] == task_id)["priority"] == (3 if auto else 0)


@pytest.mark.parametrize("approved", [False, True], ids=["auto", "approved"])
def test_the_deny_list_wins_over_auto_and_over_an_approval(
    settings: Settings, provider: ScriptedServer, approved: bool, tmp_path: Path
) -> None:
    target = tmp_path / "keep-me"
    target.mkdir()
    step = {"type": "shell", "shell": f"rm -rf / {target}"}
    more: dict[str, Any] = {} if approved else {"assistant_auto_kinds": ("shell",)}
    answer(provider, {"steps": [step, {"type": "notify", "title": "after"}]})
    with live_agent(assistant_settings(settings, provider, **more)) as agent:
        plan = plan_of(ask(agent, "clean up"))
        assert "rm -rf /" in (plan["steps"][0]["refused"] or "")
        with agent.client() as client:
            if approved:
                body = {"steps": [{"index": 0, "digest": plan["steps"][0]["digest"]}]}
                client.post(f"/api/v1/assistant/plans/{plan['id']}/approve", json=body)
            else:
                client.post(f"/api/v1/assistant/plans/{plan['id']}/run")
        end = wait_for_plan(agent, plan["id"], {"failed"})
        denied, after = end["steps"]
        assert denied["status"] == "denied"
        assert denied["run_id"] is None
        assert after["status"] == "proposed"  # a refused step ends the plan
        with agent.client() as client:
            assert client.get("/api/v1/runs").json()["items"] == []
    assert target.is_dir()


def test_an_approval_names_the_step_as_shown(settings: Settings, provider: ScriptedServer) -> None:
    answer(provider, {"steps": [{"type": "shell", "shell": "echo one"}]})
    with live_agent(assistant_settings(settings, provider)) as agent:
        plan = plan_of(ask(agent, "echo"))
        shown = plan["steps"][0]["digest"]
        base = f"/api/v1/assistant/plans/{plan['id']}"
        with agent.client() as client:
            # A digest that is not the step's: refused, nothing approved.
            wrong = client.post(
                f"{base}/approve", json={"steps": [{"index": 0, "digest": "0" * 64}]}
            )
            assert wrong.status_code == 409, wrong.text
            assert "changed since it was shown" in wrong.json()["error"]["message"]
            # Edited after it was shown: the old digest no longer approves it.
            edited = client.put(f"{base}/steps/0", json={"type": "shell", "shell": "echo two"})
            assert edited.status_code == 200, edited.text
            assert edited.json()["steps"][0]["edited"] is True
            stale = client.post(f"{base}/approve", json={"steps": [{"index": 0, "digest": shown}]})
            assert stale.status_code == 409
            current = client.get(base).json()["steps"][0]
            assert current["status"] == "proposed"
            ok = client.post(
                f"{base}/approve", json={"steps": [{"index": 0, "digest": current["digest"]}]}
            )
            assert ok.status_code == 200
        end = wait_for_plan(agent, plan["id"], {"done", "failed"})
        assert end["steps"][0]["result"]["stdout"] == "two\n"


def test_only_a_token_with_admin_approves_and_a_rejected_step_never_runs(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(
        provider,
        {
            "steps": [
                {"type": "shell", "shell": "echo skipped"},
                {"type": "task_create", "title": "kept"},
            ]
        },
    )
    with live_agent(assistant_settings(settings, provider)) as agent:
        plan = plan_of(ask(agent, "two things"))
        base = f"/api/v1/assistant/plans/{plan['id']}"
        approve_second = {"steps": [{"index": 1, "digest": plan["steps"][1]["digest"]}]}
        automate = agent.make_token("read", "automate")
        with agent.client(automate) as client:
            refused = client.post(f"{base}/approve", json=approve_second)
            assert refused.status_code == 403
            assert client.post(f"{base}/reject", json={"steps": [0]}).status_code == 200
        with agent.client() as client:
            assert client.post(f"{base}/approve", json=approve_second).status_code == 200
        end = wait_for_plan(agent, plan["id"], {"done", "failed"})
        assert [s["status"] for s in end["steps"]] == ["rejected", "succeeded"]
        with agent.client() as client:
            assert client.get("/api/v1/runs").json()["items"] == []
            # A step that ran cannot be approved again.
            again = client.post(f"{base}/approve", json=approve_second)
            assert again.status_code == 409


def test_allowed_context_is_redacted_capped_and_shown(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"reply": "One run failed."})
    shared = assistant_settings(
        settings,
        provider,
        assistant_share_runs=True,
        assistant_share_tasks=True,
        assistant_context_tokens=400,
    )
    with live_agent(shared) as agent:
        with agent.client() as client:
            for n in range(40):
                client.post("/api/v1/tasks", json={"title": f"task number {n}"})
            run = client.post(
                "/api/v1/runs", json={"shell": f"echo '{LEAK}'; echo {agent.owner_token}; exit 3"}
            ).json()
            wait = time.monotonic() + 30
            while client.get(f"/api/v1/runs/{run['id']}").json()["status"] != "failed":
                assert time.monotonic() < wait
                time.sleep(0.05)
        events = ask(agent, "what failed?")
        assert "".join(d["text"] for k, d in events if k == "reply") == "One run failed."
        assert "plan" not in [k for k, _ in events]
        sent_body = provider.received[-1].body.decode()
        assert "exit code 3" in sent_body
        assert "hunter2" not in sent_body
        assert agent.owner_token not in sent_body
        assert "more not sent" in sent_body  # 40 tasks do not fit in their share
        conversation_id = events[0][1]["conversation_id"]
        with agent.client() as client:
            detail = client.get(f"/api/v1/assistant/conversations/{conversation_id}").json()
        recorded = json.dumps(detail["messages"][0]["sent"])
        assert "exit code 3" in recorded
        assert "hunter2" not in recorded
        assert agent.owner_token not in recorded


def test_nothing_is_sent_without_consent(settings: Settings, provider: ScriptedServer) -> None:
    answer(provider, {"reply": "ok"})
    with live_agent(assistant_settings(settings, provider)) as agent:
        with agent.client() as client:
            client.post("/api/v1/tasks", json={"title": "private task"})
        ask(agent, "hello")
        body = provider.received[-1].json()
        assert "private task" not in json.dumps(body)
        assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_a_later_request_carries_the_earlier_turns(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"reply": "First answer."})
    answer(provider, {"reply": "Second answer."})
    with live_agent(assistant_settings(settings, provider)) as agent:
        first = ask(agent, "first question")
        conversation_id = first[0][1]["conversation_id"]
        ask(agent, "second question", conversation_id=conversation_id)
        messages = provider.received[-1].json()["messages"]
        assert [(m["role"], m["content"]) for m in messages[1:]] == [
            ("user", "first question"),
            ("assistant", "First answer."),
            ("user", "second question"),
        ]


def test_without_a_provider_the_rules_answer(settings: Settings) -> None:
    with live_agent(settings) as agent:
        events = ask(agent, "every weekday at 9 run make test")
        plan = plan_of(events)
        assert plan["steps"][0]["kind"] == "automation"
        refusal = ask(agent, "make me a sandwich")
        said = "".join(d["text"] for k, d in refusal if k == "reply")
        assert "Without an AI provider I understand" in said
        assert "plan" not in [k for k, _ in refusal]


def test_an_unreachable_provider_falls_back_to_the_rules_and_says_so(settings: Settings) -> None:
    with fake.fake_openai_server(None) as gone:
        address = gone.base_url
    unreachable = settings.model_copy(
        update={
            "assistant_provider": "openai_compatible",
            "assistant_base_url": address + "/v1",
            "assistant_model": fake.MODEL,
        }
    )
    with live_agent(unreachable) as agent:
        events = ask(agent, "run make test")
        said = "".join(d["text"] for k, d in events if k == "reply")
        assert "built-in rules instead" in said
        assert plan_of(events)["steps"][0]["commands"] == ["make test"]


def test_a_provider_failure_is_one_clear_error_and_is_kept(
    settings: Settings, provider: ScriptedServer
) -> None:
    provider.add(fake.model_not_found(fake.MODEL))
    with live_agent(assistant_settings(settings, provider)) as agent:
        events = ask(agent, "run make test")
        kinds = [k for k, _ in events]
        assert kinds == ["conversation", "error"]
        error = events[-1][1]
        assert error["kind"] == "model_not_found"
        assert fake.MODEL in error["message"]
        assert error["hint"]
        with agent.client() as client:
            detail = client.get(
                f"/api/v1/assistant/conversations/{events[0][1]['conversation_id']}"
            ).json()
        assert [m["role"] for m in detail["messages"]] == ["user", "error"]


def test_bad_requests_are_refused_before_any_stream(
    settings: Settings, provider: ScriptedServer
) -> None:
    with live_agent(assistant_settings(settings, provider)) as agent, agent.client() as client:
        for body, status in (
            ({"text": ""}, 422),
            ({"text": "   "}, 422),
            ({"text": "x" * 10_001}, 422),
            ({"text": "hi", "conversation_id": "nope"}, 404),
            ({"text": "hi", "extra": 1}, 422),
        ):
            response = client.post("/api/v1/assistant/messages", json=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["error"]["message"]
        assert provider.received == []
        assert client.get("/api/v1/assistant/conversations").json()["items"] == []


def test_a_deleted_conversation_takes_its_plans_along(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"steps": [{"type": "notify", "title": "x"}]})
    with live_agent(assistant_settings(settings, provider)) as agent:
        events = ask(agent, "notify me")
        conversation_id = events[0][1]["conversation_id"]
        plan_id = plan_of(events)["id"]
        with agent.client() as client:
            gone = client.delete(f"/api/v1/assistant/conversations/{conversation_id}")
            assert gone.status_code == 204
            assert client.get(f"/api/v1/assistant/plans/{plan_id}").status_code == 404
            assert client.get("/api/v1/assistant/conversations").json()["items"] == []
            again = client.delete(f"/api/v1/assistant/conversations/{conversation_id}")
            assert again.status_code == 404


def test_an_answer_is_kept_when_the_client_goes_away(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"reply": "Kept.", "steps": [{"type": "notify", "title": "x"}]})
    with live_agent(assistant_settings(settings, provider)) as agent:
        with (
            httpx.Client(base_url=agent.base_url, timeout=10) as client,
            client.stream(
                "POST",
                "/api/v1/assistant/messages",
                json={"text": "notify me"},
                headers={"Authorization": f"Bearer {agent.owner_token}"},
            ) as response,
        ):
            first = next(response.iter_lines())
            assert first == "event: conversation"
        # Hung up after the first event: the answer is stored all the same.
        deadline = time.monotonic() + 30
        with agent.client() as client:
            while True:
                items = client.get("/api/v1/assistant/conversations").json()["items"]
                if items and items[0]["message_count"] == 2:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.05)
            detail = client.get(f"/api/v1/assistant/conversations/{items[0]['id']}").json()
        assert detail["messages"][1]["text"] == "Kept."
        assert len(detail["plans"]) == 1


def test_a_step_running_when_the_agent_stops_is_recorded_as_stopped(
    settings: Settings, provider: ScriptedServer
) -> None:
    answer(provider, {"steps": [{"type": "shell", "shell": "sleep 60"}]})
    chosen = assistant_settings(settings, provider)
    with live_agent(chosen) as agent:
        plan = plan_of(ask(agent, "wait a minute"))
        with agent.client() as client:
            body = {"steps": [{"index": 0, "digest": plan["steps"][0]["digest"]}]}
            client.post(f"/api/v1/assistant/plans/{plan['id']}/approve", json=body)
        running = wait_for_plan(agent, plan["id"], {"running"})
        deadline = time.monotonic() + 30
        while running["steps"][0]["run_id"] is None:
            assert time.monotonic() < deadline
            running = wait_for_plan(agent, plan["id"], {"running"})
    # The agent stopped with the step running; started again, it says so.
    with live_agent(chosen) as agent, agent.client() as client:
        after = client.get(f"/api/v1/assistant/plans/{plan['id']}").json()
        step = after["steps"][0]
        assert after["state"] == "failed"
        assert step["status"] == "failed"
        assert "stopped" in step["result"]["error"]
        run = client.get(f"/api/v1/runs/{running['steps'][0]['run_id']}").json()
        assert run["status"] in ("cancelled", "interrupted")
