"""The conflict inbox over HTTP: list, restore, dismiss, with their scopes and errors.

The agent runs for real (uvicorn, encrypted store); conflicts are filed as
the sync engine files them, by applying another device's newer version over
a change not pushed yet (the two-device run against PostgreSQL is in
tests/integration/sync/test_conflict_inbox.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atom_desktop.core.hlc import pack
from atom_desktop.store.replica import RemoteRow, SyncReplica
from atom_desktop.sync.secrets import with_local_secrets
from tests.integration.api.conftest import LiveAgent

OTHER = "00000000-0000-4000-8000-0000000000ee"
FUTURE_MS = 4_000_000_000_000
SECRET = "hunter2-very-secret"


class Remote:
    """Another device whose newer versions this agent pulls."""

    def __init__(self, agent: LiveAgent) -> None:
        self._replica = SyncReplica(agent.runtime.store.database)
        self._change = 0

    def apply(self, entity: str, entity_id: str, data: dict[str, Any], **kw: Any) -> None:
        self._change += 1
        stamp = pack(FUTURE_MS + 1000 * self._change, 0)
        row = RemoteRow(
            entity, entity_id, data, stamp, OTHER, kw.get("deleted", False), self._change
        )
        self._replica.apply([row], self._change, with_local_secrets)


@pytest.fixture
def remote(agent: LiveAgent) -> Remote:
    return Remote(agent)


@pytest.fixture
def client(agent: LiveAgent) -> Iterator[httpx.Client]:
    with agent.client() as client:
        yield client


def _conflicts(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/sync/conflicts", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _lost_task_edit(remote: Remote, client: httpx.Client) -> dict[str, Any]:
    task = client.post("/api/v1/tasks", json={"title": "base"}).json()
    client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "mine", "priority": 3})
    remote.apply("task", task["id"], {**task, "title": "theirs"})
    return dict(task)


def test_a_lost_task_edit_is_listed_restored_and_gone_from_the_open_list(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    task = _lost_task_edit(remote, client)
    page = _conflicts(client)
    (conflict,) = page["items"]
    assert page["next_before"] is None
    assert conflict["entity"] == "task" and conflict["entity_id"] == task["id"]
    assert conflict["reason"] == "lost" and conflict["deleted"] is False
    assert conflict["content"]["title"] == "mine" and conflict["content"]["priority"] == 3
    assert conflict["winner"]["device_id"] == OTHER
    assert conflict["winner"]["at"].startswith("2096-")  # FUTURE_MS as a time
    assert conflict["version"]["hlc"] < conflict["winner"]["hlc"]
    assert conflict["current"]["exists"] is True and conflict["current"]["title"] == "theirs"
    assert conflict["resolved_at"] is None and conflict["why"] is None
    assert client.get("/api/v1/sync/status").json()["conflicts"] == 1

    restored = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")

    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["resolved_at"] is not None and body["current"]["title"] == "mine"
    assert body["current"]["version"]["hlc"] > conflict["winner"]["hlc"]
    assert client.get(f"/api/v1/tasks/{task['id']}").json()["title"] == "mine"
    assert _conflicts(client)["items"] == []
    assert [c["id"] for c in _conflicts(client, include_resolved="true")["items"]] == [
        conflict["id"]
    ]
    assert client.get("/api/v1/sync/status").json()["conflicts"] == 0
    status = agent.runtime.store.outbox.pending()[-1]
    assert status.entity_id == task["id"] and status.payload["title"] == "mine"


def test_dismiss_keeps_the_winner(agent: LiveAgent, remote: Remote, client: httpx.Client) -> None:
    task = _lost_task_edit(remote, client)
    (conflict,) = _conflicts(client)["items"]
    pending = agent.runtime.store.outbox.count()

    dismissed = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/dismiss")

    assert dismissed.status_code == 200 and dismissed.json()["resolved_at"] is not None
    assert client.get(f"/api/v1/tasks/{task['id']}").json()["title"] == "theirs"
    assert agent.runtime.store.outbox.count() == pending
    assert _conflicts(client)["items"] == []


def test_unknown_is_404_and_resolved_is_409(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    for action in ("restore", "dismiss"):
        response = client.post(f"/api/v1/sync/conflicts/999/{action}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    _lost_task_edit(remote, client)
    (conflict,) = _conflicts(client)["items"]
    assert client.post(f"/api/v1/sync/conflicts/{conflict['id']}/dismiss").status_code == 200
    for action in ("restore", "dismiss"):
        again = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/{action}")
        assert again.status_code == 409
        assert "already resolved" in again.json()["error"]["message"]


def test_scopes_read_lists_and_automate_resolves(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    _lost_task_edit(remote, client)
    (conflict,) = _conflicts(client)["items"]
    read = agent.make_token("read")
    with agent.client(read) as reader:
        assert reader.get("/api/v1/sync/conflicts").status_code == 200
        for action in ("restore", "dismiss"):
            refused = reader.post(f"/api/v1/sync/conflicts/{conflict['id']}/{action}")
            assert refused.status_code == 403
    with agent.client(agent.make_token("automate")) as automate:
        assert automate.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore").status_code == 200


def test_pages_and_limits(agent: LiveAgent, remote: Remote, client: httpx.Client) -> None:
    for _ in range(3):
        _lost_task_edit(remote, client)
    first = _conflicts(client, limit=2)
    assert len(first["items"]) == 2 and first["next_before"] == first["items"][-1]["id"]
    rest = _conflicts(client, limit=2, before=first["next_before"])
    assert len(rest["items"]) == 1 and rest["next_before"] is None
    ids = [c["id"] for c in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    for params in ({"limit": 0}, {"limit": 501}, {"before": 0}, {"include_resolved": "maybe"}):
        assert client.get("/api/v1/sync/conflicts", params=params).status_code == 422
    assert client.post("/api/v1/sync/conflicts/0/restore").status_code == 422


def _automation_with_a_secret(client: httpx.Client) -> dict[str, Any]:
    spec = {
        "name": "deploy",
        "approval": "ask",
        "steps": [{"type": "shell", "shell": "deploy.sh", "env": {"TOKEN": SECRET}}],
    }
    response = client.post("/api/v1/automations", json=spec)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_lost_automation_change_is_listed_without_its_secrets_and_restored_with_them(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    automation = _automation_with_a_secret(client)
    mine = {**automation["spec"], "name": "deploy (mine)"}
    assert client.put(f"/api/v1/automations/{automation['id']}", json=mine).status_code == 200
    theirs = {**automation["spec"], "name": "deploy (theirs)"}
    theirs["steps"] = [{**theirs["steps"][0], "env": {"TOKEN": "***"}}]
    remote.apply(
        "automation", automation["id"], {"name": theirs["name"], "enabled": True, "spec": theirs}
    )
    assert client.get(f"/api/v1/automations/{automation['id']}").json()["name"] == (
        "deploy (theirs)"
    )

    listed = client.get("/api/v1/sync/conflicts")
    (conflict,) = listed.json()["items"]
    assert SECRET not in listed.text
    assert conflict["entity"] == "automation"
    assert conflict["content"]["name"] == "deploy (mine)"
    assert conflict["content"]["spec"]["steps"][0]["env"] == {"TOKEN": "***"}
    assert conflict["current"]["title"] == "deploy (theirs)"
    assert conflict["current"]["status"] == "enabled"

    restored = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")

    assert restored.status_code == 200, restored.text
    assert SECRET not in restored.text
    now = client.get(f"/api/v1/automations/{automation['id']}").json()
    assert now["name"] == "deploy (mine)"
    assert now["spec"]["steps"][0]["env"] == {"TOKEN": SECRET}  # the original came back
    assert restored.json()["current"]["title"] == "deploy (mine)"


def test_restoring_an_unapproved_shell_automation_needs_the_run_scope(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    spec = {"name": "auto", "steps": [{"type": "shell", "shell": "true"}]}
    automation = client.post("/api/v1/automations", json=spec).json()
    client.put(f"/api/v1/automations/{automation['id']}", json={**spec, "name": "auto (mine)"})
    remote.apply(
        "automation",
        automation["id"],
        {"name": "auto (theirs)", "enabled": True, "spec": {**spec, "name": "auto (theirs)"}},
    )
    (conflict,) = _conflicts(client)["items"]
    with agent.client(agent.make_token("automate")) as automate:
        refused = automate.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")
    assert refused.status_code == 403 and "'run' scope" in refused.json()["error"]["message"]
    assert _conflicts(client)["items"][0]["resolved_at"] is None
    assert client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore").status_code == 200


def test_an_automation_deleted_since_cannot_be_restored_and_can_be_dismissed(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    automation = _automation_with_a_secret(client)
    edited = {**automation["spec"], "name": "edited"}
    client.put(f"/api/v1/automations/{automation['id']}", json=edited)
    remote.apply("automation", automation["id"], {}, deleted=True)
    (conflict,) = _conflicts(client)["items"]
    assert conflict["current"]["exists"] is False

    refused = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")

    assert refused.status_code == 409
    assert "deleted" in refused.json()["error"]["message"]
    assert client.post(f"/api/v1/sync/conflicts/{conflict['id']}/dismiss").status_code == 200


def test_a_rejected_version_says_why_and_is_not_restored(
    agent: LiveAgent, remote: Remote, client: httpx.Client
) -> None:
    client.post("/api/v1/tasks", json={"title": "here", "source": "jira", "external_id": "X-1"})
    stranger = "00000000-0000-4000-8000-000000000abc"
    at = "2026-01-01T00:00:00+00:00"
    remote.apply(
        "task",
        stranger,
        {
            "title": "there",
            "status": "todo",
            "source": "jira",
            "external_id": "X-1",
            "created_at": at,
            "updated_at": at,
        },
    )
    (conflict,) = _conflicts(client)["items"]
    assert conflict["reason"] == "rejected" and "external id" in conflict["why"]
    assert conflict["content"]["title"] == "there"
    assert conflict["version"]["device_id"] == OTHER and conflict["current"]["exists"] is False
    refused = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")
    assert refused.status_code == 409 and "could not store" in refused.json()["error"]["message"]
