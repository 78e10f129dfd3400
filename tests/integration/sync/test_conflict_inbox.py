"""A real conflict between two running agents and PostgreSQL, restored from the inbox.

B is cut off from the server (a loopback proxy switched off) while it edits
a task; A edits the same task later and pushes. When B comes back, its push
loses, the change goes to B's conflict inbox, and B takes A's version. The
owner restores B's version through the API: it wins the next push and A
ends with it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from atom_desktop.core.hlc import wall_ms
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.api.test_automations import until
from tests.integration.sync.test_service import _settings, _status, _url
from tests.support.ports import free_port
from tests.support.sync_server import DeviceFactory, SyncDatabase
from tests.support.tcp_proxy import TcpProxy

HOUR_MS = 3_600_000


def _task(agent: LiveAgent, task_id: str) -> dict[str, Any] | None:
    with agent.client() as client:
        response = client.get(f"/api/v1/tasks/{task_id}")
    return None if response.status_code == 404 else dict(response.json())


def _title(agent: LiveAgent, task_id: str) -> str | None:
    task = _task(agent, task_id)
    return None if task is None else str(task["title"])


def _settled(agent: LiveAgent, conflicts: int) -> dict[str, Any] | bool:
    status = _status(agent)
    done = (
        status["state"] == "up_to_date"
        and status["pending"] == 0
        and status["conflicts"] == conflicts
    )
    return status if done else False


def _sync_now(agent: LiveAgent) -> None:
    with agent.client() as client:
        assert client.post("/api/v1/sync/run").status_code == 202


def test_a_change_that_lost_is_restored_from_the_inbox_and_wins_on_the_other_device(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    a, b = make_device("a", "acme"), make_device("b", "acme")
    proxy = TcpProxy(free_port(), ("127.0.0.1", synced.server.port))
    proxy.start()
    url_b = _url(synced, b.role, b.password, proxy.port)
    try:
        with (
            live_agent(_settings(tmp_path, "a", _url(synced, a.role, a.password))) as agent_a,
            live_agent(_settings(tmp_path, "b", url_b)) as agent_b,
        ):
            # A's clock runs an hour ahead: its edit is the later one by any measure.
            agent_a.runtime.store.database.wall_ms = lambda: wall_ms() + HOUR_MS
            with agent_a.client() as client:
                task = client.post("/api/v1/tasks", json={"title": "base"}).json()
            until(lambda: _title(agent_b, task["id"]) == "base", what="the task on B")

            proxy.stop()  # B is cut off; its edit waits in its queue
            with agent_b.client() as client:
                edit = {"title": "from B", "notes": "B's notes", "priority": 2}
                assert client.patch(f"/api/v1/tasks/{task['id']}", json=edit).status_code == 200
            with agent_a.client() as client:
                client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "from A"})
            until(partial(_settled, agent_a, 0), what="A's edit on the server")

            proxy.start()
            _sync_now(agent_b)
            # B's push lost: the change is in its inbox, and A's version is here.
            until(partial(_settled, agent_b, 1), what="B's conflict")
            assert _title(agent_b, task["id"]) == "from A"
            with agent_b.client() as client:
                (conflict,) = client.get("/api/v1/sync/conflicts").json()["items"]
            assert conflict["entity_id"] == task["id"] and conflict["reason"] == "lost"
            assert conflict["content"]["title"] == "from B"
            assert conflict["current"]["title"] == "from A"
            assert conflict["winner"]["device_id"] == conflict["current"]["version"]["device_id"]
            assert conflict["winner"]["device_id"] != conflict["version"]["device_id"]

            with agent_b.client() as client:
                restored = client.post(f"/api/v1/sync/conflicts/{conflict['id']}/restore")
            assert restored.status_code == 200, restored.text

            # Pushed by B's sync at the change, announced to A by NOTIFY.
            until(lambda: _title(agent_a, task["id"]) == "from B", what="the restore on A")
            on_a = _task(agent_a, task["id"])
            assert on_a is not None and (on_a["notes"], on_a["priority"]) == ("B's notes", 2)
            status_b = until(partial(_settled, agent_b, 0), what="B settled")
            assert status_b["last_error"] is None
            until(partial(_settled, agent_a, 0), what="A settled")
            with agent_a.client() as client:
                assert client.get("/api/v1/sync/conflicts").json()["items"] == []
            with synced.connect_admin() as conn:
                row = conn.execute(
                    "SELECT data ->> 'title' FROM atom_sync.tasks WHERE id = %s", (task["id"],)
                ).fetchone()
            assert row == ("from B",)
    finally:
        proxy.stop()
