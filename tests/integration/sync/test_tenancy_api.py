"""Tenancy through our own API: two running agents of two tenants on one server.

The SQL side (row-level security against crafted ids and tenant ids) is in
test_tenancy.py; here a user of agent A's HTTP API aims at tenant B's rows
with B's ids and B's external ids, and neither sees nor changes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.api.test_automations import until
from tests.integration.sync.test_service import _settings, _status, _url
from tests.support.sync_server import DeviceFactory, SyncDatabase


def _settled(agent: LiveAgent) -> bool:
    with agent.client() as client:
        client.post("/api/v1/sync/run").raise_for_status()
    status = _status(agent)
    return bool(status["state"] == "up_to_date" and status["pending"] == 0)


def _server_rows(db: SyncDatabase) -> list[tuple[Any, ...]]:
    with db.connect_admin() as conn:
        return conn.execute(
            "SELECT t.name, s.id, s.data->>'title', s.data->>'external_id' "
            "FROM atom_sync.tasks s JOIN atom_sync.tenants t ON t.id = s.tenant_id "
            "ORDER BY t.name, s.data->>'title'"
        ).fetchall()


def test_one_tenants_agent_api_cannot_reach_another_tenants_rows(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    a, b = make_device("a", "acme"), make_device("b", "globex")
    with (
        live_agent(_settings(tmp_path, "a", _url(synced, a.role, a.password))) as agent_a,
        live_agent(_settings(tmp_path, "b", _url(synced, b.role, b.password))) as agent_b,
        agent_a.client() as client_a,
        agent_b.client() as client_b,
    ):
        theirs = client_b.post(
            "/api/v1/tasks",
            json={"title": "globex payroll", "source": "jira", "external_id": "PAY-1"},
        ).json()
        until(lambda: _settled(agent_b), what="B's task on the server")
        until(lambda: _settled(agent_a), what="A synced after it")

        # A's API neither lists nor finds nor changes B's task, by B's own id.
        listed = client_a.get("/api/v1/tasks").json()["items"]
        assert [t["id"] for t in listed] == []
        assert client_a.get(f"/api/v1/tasks/{theirs['id']}").status_code == 404
        patched = client_a.patch(f"/api/v1/tasks/{theirs['id']}", json={"title": "owned"})
        assert patched.status_code == 404
        assert client_a.delete(f"/api/v1/tasks/{theirs['id']}").status_code == 404
        # An id cannot be chosen through the API at all.
        crafted = client_a.post("/api/v1/tasks", json={"id": theirs["id"], "title": "x"})
        assert crafted.status_code == 422
        # The same source and external id in A's tenant make A's own row, not B's.
        mine = client_a.post(
            "/api/v1/tasks",
            json={"title": "acme copy", "source": "jira", "external_id": "PAY-1"},
        ).json()
        assert mine["id"] != theirs["id"]
        until(lambda: _settled(agent_a), what="A's task on the server")
        until(lambda: _settled(agent_b), what="B synced after it")

        assert _server_rows(synced) == [
            ("acme", mine["id"], "acme copy", "PAY-1"),
            ("globex", theirs["id"], "globex payroll", "PAY-1"),
        ]
        b_tasks = client_b.get("/api/v1/tasks").json()["items"]
        assert [(t["id"], t["title"]) for t in b_tasks] == [(theirs["id"], "globex payroll")]
        assert [t["id"] for t in client_a.get("/api/v1/tasks").json()["items"]] == [mine["id"]]
        for client in (client_a, client_b):
            assert client.get("/api/v1/sync/conflicts").json()["items"] == []
