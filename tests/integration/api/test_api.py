"""The API against a real agent on loopback: behaviour beyond the attack matrix."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin, Subprotocol

from atom_desktop.agent_thread import AgentThread
from atom_desktop.api.server import PortInUseError
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import AgentStateChanged
from atom_desktop.platform.instance_lock import AlreadyRunningError
from atom_desktop.runtime import Runtime
from tests.integration.api.conftest import LiveAgent, live_agent

HISTORY = 1000  # EventBus default history


def test_health_has_no_secrets_and_names_the_key_storage(agent: LiveAgent) -> None:
    with httpx.Client(base_url=agent.base_url) as client:
        body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["key_storage"] == "file"
    assert set(body) == {
        "status",
        "version",
        "uptime_s",
        "key_storage",
        "keyring_backend",
        "key_where",
    }
    # Home, Settings, the log and `status` say it in the same words, with the path.
    assert body["key_where"].startswith("key file, not in an OS keyring: ")
    assert "/" not in body["key_where"]
    assert agent.owner_token not in json.dumps(body)


def test_tasks_crud_filters_pages_and_errors(agent: LiveAgent) -> None:
    with agent.client() as client:
        ids = [
            client.post(
                "/api/v1/tasks", json={"title": f"task {i}", "tags": ["t"] if i % 2 else []}
            ).json()["id"]
            for i in range(7)
        ]
        page = client.get("/api/v1/tasks", params={"limit": 3}).json()
        seen = [t["id"] for t in page["items"]]
        while page["next_cursor"]:
            page = client.get(
                "/api/v1/tasks", params={"limit": 3, "cursor": page["next_cursor"]}
            ).json()
            seen += [t["id"] for t in page["items"]]
        assert sorted(seen) == sorted(ids)
        tagged = client.get("/api/v1/tasks", params={"tag": "t"}).json()["items"]
        assert len(tagged) == 3
        both = client.get("/api/v1/tasks", params=[("status", "todo"), ("status", "done")]).json()
        assert len(both["items"]) == 7
        missing = client.get("/api/v1/tasks/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        invalid = client.post("/api/v1/tasks", json={"title": "x", "priority": 9})
        assert invalid.status_code == 422
        assert invalid.json()["error"]["message"].startswith("priority")
        bad_cursor = client.get("/api/v1/tasks", params={"cursor": "zzz"})
        assert bad_cursor.status_code == 400
        assert bad_cursor.json()["error"]["code"] == "invalid_cursor"
        unknown_param = client.get("/api/v1/tasks", params={"colour": "red"})
        assert unknown_param.status_code == 422
        conflict = [
            client.post(
                "/api/v1/tasks", json={"title": "gh", "source": "github", "external_id": "1"}
            )
            for _ in range(2)
        ]
        assert [r.status_code for r in conflict] == [201, 409]


def test_out_of_range_numbers_are_invalid_input_not_a_crash(agent: LiveAgent) -> None:
    # Found by the schema fuzzer: SQLite integers stop at 2**63 - 1.
    with agent.client() as client:
        for path in (
            "/api/v1/audit?before=45885423833546227712",
            "/api/v1/events?since=99999999999999999999",
        ):
            response = client.get(path)
            assert response.status_code == 422, path
            assert response.json()["error"]["code"] == "invalid_input"


def test_token_created_once_listed_without_secret_and_revoked(agent: LiveAgent) -> None:
    with agent.client() as owner:
        created = owner.post("/api/v1/tokens", json={"name": "ci script", "scopes": ["read"]})
        assert created.status_code == 201
        secret = created.json()["token"]
        token_id = created.json()["id"]
        listed = owner.get("/api/v1/tokens")
        assert secret not in listed.text
        assert {"owner", "ci script"} <= {t["name"] for t in listed.json()}
        with agent.client(secret) as reader:
            assert reader.get("/api/v1/status").status_code == 200
            assert reader.post("/api/v1/tasks", json={"title": "no"}).status_code == 403
        duplicate = owner.post("/api/v1/tokens", json={"name": "ci script", "scopes": ["run"]})
        assert duplicate.status_code == 409
        assert owner.delete(f"/api/v1/tokens/{token_id}").json()["revoked_at"]
        with agent.client(secret) as reader:
            assert reader.get("/api/v1/status").status_code == 403
        used = {t["name"]: t["last_used_at"] for t in owner.get("/api/v1/tokens").json()}
        assert used["ci script"] is not None
        owner_id = next(t["id"] for t in owner.get("/api/v1/tokens").json() if t["kind"] == "owner")
        assert owner.delete(f"/api/v1/tokens/{owner_id}").status_code == 409


def test_audit_records_mutations_with_token_and_result(agent: LiveAgent) -> None:
    reader = agent.make_token("read", name="auditee")
    with agent.client() as owner, agent.client(reader) as limited:
        task_id = owner.post("/api/v1/tasks", json={"title": "audited"}).json()["id"]
        limited.delete(f"/api/v1/tasks/{task_id}")
        owner.get("/api/v1/tasks")  # reads are not audited
        entries = owner.get("/api/v1/audit").json()["items"]
    actions = [
        (e["token_name"], e["action"], e["target"], e["status"], e["result"]) for e in entries
    ]
    assert ("auditee", "DELETE /api/v1/tasks/{task_id}", None, 403, "refused") in actions
    assert ("owner", "POST /api/v1/tasks", None, 201, "ok") in actions
    assert not any(a[1].startswith("GET") for a in actions)


def test_events_stream_resumes_and_reports_a_gap(agent: LiveAgent) -> None:
    with agent.client() as client:
        task_id = client.post("/api/v1/tasks", json={"title": "evented"}).json()["id"]
        received = []
        with client.stream("GET", "/api/v1/events", params={"since": 0}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line.removeprefix("data: ")))
                    if received[-1]["kind"] == "task.changed":
                        break
        ids = [e["id"] for e in received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert received[-1]["data"] == {"task_id": task_id, "op": "created"}
        last = received[-2]["id"]
        with client.stream(
            "GET", "/api/v1/events", headers={"Last-Event-ID": str(last)}
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    assert json.loads(line.removeprefix("data: "))["id"] == last + 1
                    break
    # Beyond the kept history: the client is told it missed events.
    for _ in range(HISTORY):
        agent.runtime.bus.publish(AgentStateChanged(state="filler"))
    with (
        agent.client() as client,
        client.stream("GET", "/api/v1/events", params={"since": 1}) as response,
    ):
        lines = response.iter_lines()
        assert next(line for line in lines if line) == "event: gap"


def test_websocket_refuses_foreign_origin_and_missing_token(agent: LiveAgent) -> None:
    url = f"ws://127.0.0.1:{agent.port}/api/v1/events/ws"
    with pytest.raises(InvalidStatus) as no_token:
        ws_connect(url, open_timeout=10).close()
    assert no_token.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as foreign:
        ws_connect(
            url,
            origin=Origin("http://evil.example"),
            additional_headers={"Authorization": f"Bearer {agent.owner_token}"},
            open_timeout=10,
        ).close()
    assert foreign.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        ws_connect(
            url,
            subprotocols=[Subprotocol("bearer"), Subprotocol("atom_" + "x" * 43)],
            open_timeout=10,
        ).close()
    assert agent.handlers.calls == 0


def test_websocket_with_subprotocol_token_receives_events(agent: LiveAgent) -> None:
    url = f"ws://127.0.0.1:{agent.port}/api/v1/events/ws?since=0"
    with ws_connect(
        url, subprotocols=[Subprotocol("bearer"), Subprotocol(agent.owner_token)], open_timeout=10
    ) as ws:
        assert ws.subprotocol == "bearer"
        first = json.loads(ws.recv(timeout=10))
        assert first["id"] == 1
        assert first["kind"] == "agent.state"


def test_listens_on_loopback_only(agent: LiveAgent) -> None:
    listening = [
        c.laddr
        for c in psutil.Process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening, "the agent listens on nothing"
    assert all(addr.ip in ("127.0.0.1", "::1") for addr in listening), listening


def test_forwarded_for_does_not_change_the_client_address(agent: LiveAgent) -> None:
    with agent.client() as client:
        client.get(
            "/api/v1/status", headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
        )
    host, _port = agent.handlers.clients[-1] or ("", 0)
    assert host == "127.0.0.1"


def test_big_body_gets_413_before_the_handler(agent: LiveAgent) -> None:
    body = b'{"title": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    with agent.client() as client:
        response = client.post(
            "/api/v1/tasks", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert agent.handlers.calls == 0


def test_allowed_origin_gets_exact_cors_headers_and_preflight(settings: Settings) -> None:
    origin = "https://app.atom.example"
    with live_agent(settings.model_copy(update={"allowed_origins": (origin,)})) as agent:
        with httpx.Client(base_url=agent.base_url) as client:
            preflight = client.options(
                "/api/v1/tasks",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 204
            assert preflight.headers["access-control-allow-origin"] == origin
            assert "authorization" in preflight.headers["access-control-allow-headers"]
            response = client.get(
                "/api/v1/status",
                headers={"Origin": origin, "Authorization": f"Bearer {agent.owner_token}"},
            )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["vary"] == "Origin"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_second_agent_on_the_same_data_dir_says_so(agent: LiveAgent, settings: Settings) -> None:
    second = Runtime(settings)
    with pytest.raises(AlreadyRunningError) as info:
        AgentThread(lambda: second).start_and_wait()
    assert f"PID {os.getpid()}" in str(info.value)
    assert f"answers at http://127.0.0.1:{agent.port}" in str(info.value)


def test_busy_port_names_the_holder(agent: LiveAgent, tmp_path: Path) -> None:
    other = Settings(
        data_dir=tmp_path / "other", config_dir=tmp_path / "other-cfg", port=agent.port
    )
    runtime = Runtime(other)
    with pytest.raises(PortInUseError) as info:
        AgentThread(lambda: runtime).start_and_wait()
    message = str(info.value)
    assert f"Port {agent.port}" in message
    assert f"PID {os.getpid()}" in message
    assert "ATOM_PORT" in message
    # Nothing half-started: the second data dir's lock is free again.
    assert not (tmp_path / "other" / "agent.lock").read_text()


def test_non_loopback_host_needs_an_explicit_setting(settings: Settings) -> None:
    runtime = Runtime(settings.model_copy(update={"host": "0.0.0.0"}))
    with pytest.raises(AtomError, match="not a loopback address") as info:
        AgentThread(lambda: runtime).start_and_wait()
    assert "ATOM_ALLOW_REMOTE" in str(info.value)


def test_activate_asks_the_window_to_show_or_says_there_is_none(agent: LiveAgent) -> None:
    seen: list[str] = []
    agent.runtime.bus.subscribe(lambda e: seen.append(e.kind), "app.activate")
    reader = agent.make_token("read")
    with agent.client() as client:
        headless = client.post("/api/v1/app/activate", json={})
        assert headless.status_code == 409
        assert "headless" in headless.json()["error"]["message"]
        assert seen == []
        agent.runtime.window_attached = True
        with agent.client(reader) as under_scoped:
            assert under_scoped.post("/api/v1/app/activate", json={}).status_code == 403
        response = client.post("/api/v1/app/activate", json={})
        assert response.status_code == 202
        assert response.json() == {"status": "activating"}
    assert seen == ["app.activate"]


def test_preview_shows_the_next_fire_times_or_what_is_wrong(agent: LiveAgent) -> None:
    reader = agent.make_token("read")
    automator = agent.make_token("automate")
    body = {"trigger": {"type": "cron", "expression": "0 9 * * 0", "timezone": "Europe/Berlin"}}
    with agent.client(reader) as client:
        assert client.post("/api/v1/automations/preview", json=body).status_code == 403
    with agent.client(automator) as client:
        response = client.post("/api/v1/automations/preview", json=body)
        assert response.status_code == 200
        times = [datetime.fromisoformat(t) for t in response.json()["times"]]
        assert len(times) == 5
        berlin = [t.astimezone(ZoneInfo("Europe/Berlin")) for t in times]
        assert {(t.strftime("%a"), t.hour, t.minute) for t in berlin} == {("Sun", 9, 0)}
        assert times == sorted(times) and times[0] > datetime.now(UTC)

        bad_cron = {"trigger": {"type": "cron", "expression": "0 25 * * *"}}
        response = client.post("/api/v1/automations/preview", json=bad_cron)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["field"] == "trigger.expression"
        assert "0 25 * * *" in error["message"]

        bad_zone = {"trigger": {"type": "interval", "seconds": 60, "timezone": "Mars/Base"}}
        response = client.post("/api/v1/automations/preview", json=bad_zone)
        assert response.status_code == 422
        assert "IANA" in response.json()["error"]["message"]

        unknown = {"trigger": {"type": "sometimes"}}
        assert client.post("/api/v1/automations/preview", json=unknown).status_code == 422
