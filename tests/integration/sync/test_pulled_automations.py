"""An automation made, changed or deleted on one agent is armed, disarmed or forgotten on another.

Two running agents sync through the real PostgreSQL; what B's scheduler
does is seen through B's API (its next fire time and its runs) and its
scheduler's jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from atom_desktop.config.settings import Settings
from atom_desktop.core.events import AutomationChanged, AutomationProblem, AutomationPulled
from atom_desktop.core.hlc import pack, wall_ms
from atom_desktop.store.outbox import OutboxEntry
from atom_desktop.sync.push import push_batch
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.api.test_automations import ENDED, create, runs, until
from tests.support.sync_server import DeviceFactory, SyncDatabase


def _settings(tmp_path: Path, name: str, url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / name / "data",
        config_dir=tmp_path / name / "config",
        port=0,
        sync_url=SecretStr(url),
    )


def _synced_settings(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path, name: str
) -> Settings:
    device = make_device(name, "acme")
    url = (
        f"postgresql://{device.role}@127.0.0.1:{synced.server.port}/{synced.name}"
        f"?password={device.password}"
    )
    return _settings(tmp_path, name, url)


@contextmanager
def _two_agents(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> Iterator[tuple[LiveAgent, LiveAgent]]:
    with (
        live_agent(_synced_settings(synced, make_device, tmp_path, "a")) as agent_a,
        live_agent(_synced_settings(synced, make_device, tmp_path, "b")) as agent_b,
    ):
        yield agent_a, agent_b


def _get(client: httpx.Client, automation_id: str) -> dict[str, Any] | None:
    response = client.get(f"/api/v1/automations/{automation_id}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return dict(response.json())


def _has_job(agent: LiveAgent, automation_id: str) -> bool:
    scheduler = agent.runtime.automations._scheduler
    return scheduler is not None and scheduler.get_job(automation_id) is not None


def _announced(agent: LiveAgent, automation_id: str, op: str) -> bool:
    events, _ = agent.runtime.bus.since(0)
    return any(
        isinstance(e.payload, AutomationChanged)
        and e.payload.automation_id == automation_id
        and e.payload.op == op
        for e in events
    )


def _pulled(agent: LiveAgent) -> list[AutomationPulled]:
    events, _ = agent.runtime.bus.since(0)
    return [e.payload for e in events if isinstance(e.payload, AutomationPulled)]


def _automation_entries(agent: LiveAgent) -> list[str]:
    pending = agent.runtime.store.outbox.pending(limit=1000)
    return [e.op for e in pending if e.entity == "automation"]


def test_an_automation_from_another_agent_is_armed_disarmed_and_forgotten(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    spec = {
        "name": "every second",
        "triggers": [{"type": "interval", "seconds": 1}],
        # The token stays on A; B gets the mask, and its step refuses to run with it.
        "steps": [{"type": "shell", "shell": "true", "env": {"TOKEN": "t0p"}}],
    }
    with (
        _two_agents(synced, make_device, tmp_path) as (agent_a, agent_b),
        agent_a.client() as client_a,
        agent_b.client() as client_b,
    ):
        made = create(client_a, spec)
        automation_id = made["id"]

        # Created on A: armed on B, and it fires there.
        state = until(
            lambda: (s := _get(client_b, automation_id)) and s["next_fire_at"] and s,
            what="the automation armed on B",
        )
        assert state["enabled"] and state["name"] == "every second"
        assert state["spec"]["steps"][0]["env"] == {"TOKEN": "***"}
        assert _has_job(agent_b, automation_id)
        fired = until(
            lambda: [
                r
                for r in runs(client_b, automation_id)
                if r["trigger_kind"] == "schedule" and r["status"] in ENDED
            ],
            what="a scheduled run on B",
        )
        assert fired[-1]["status"] == "failed"
        step = fired[-1]["steps"][0]
        assert "environment variable TOKEN" in step["error"]
        assert "secrets are not synced" in step["error"]
        assert "run_id" not in step  # no command was started with the mask
        until(lambda: _announced(agent_b, automation_id, "created"), what="B announcing it")
        # The pulled version went to B's store only: nothing for B to push back.
        assert _automation_entries(agent_b) == []

        # Disabled on A: disarmed on B.
        response = client_a.post(f"/api/v1/automations/{automation_id}/disable")
        response.raise_for_status()
        state = until(
            lambda: (s := _get(client_b, automation_id)) and not s["enabled"] and s,
            what="the automation disabled on B",
        )
        until(lambda: not _has_job(agent_b, automation_id), what="B's job removed")
        assert (_get(client_b, automation_id) or {})["next_fire_at"] is None
        until(lambda: _announced(agent_b, automation_id, "updated"), what="B announcing it")

        # Enabled again, then deleted on A: re-armed, then gone from B.
        client_a.post(f"/api/v1/automations/{automation_id}/enable").raise_for_status()
        until(lambda: _has_job(agent_b, automation_id), what="B's job back")
        assert client_a.delete(f"/api/v1/automations/{automation_id}").status_code == 204
        until(lambda: _get(client_b, automation_id) is None, what="the automation gone from B")
        until(lambda: not _has_job(agent_b, automation_id), what="B's job removed")
        until(lambda: _announced(agent_b, automation_id, "deleted"), what="B announcing it")
        listed = client_b.get("/api/v1/automations").json()["items"]
        assert listed == []
        assert _automation_entries(agent_b) == []
        assert {p.op for p in _pulled(agent_b)} >= {"created", "updated", "deleted"}
        # A made the changes and pulled none of them back as another device's.
        assert _pulled(agent_a) == []


def test_a_version_that_cannot_be_armed_here_is_stored_unarmed_and_reported(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> None:
    newer = make_device("newer", "acme")  # a device running a later version, say
    automation_id = str(uuid.uuid4())
    spec = {
        "name": "by moonlight",
        "triggers": [{"type": "lunar", "phase": "full"}],
        "steps": [{"type": "shell", "shell": "true"}],
    }
    entry = OutboxEntry(
        seq=1,
        entity="automation",
        entity_id=automation_id,
        op="create",
        payload={"name": "by moonlight", "enabled": True, "spec": spec},
        created_at=datetime.now(UTC),
        hlc=pack(wall_ms(), 0),
    )
    settings = _synced_settings(synced, make_device, tmp_path, "b")
    with live_agent(settings) as agent_b, agent_b.client() as client_b:
        with synced.connect_as(newer.role, newer.password) as conn:
            push_batch(conn, str(uuid.uuid4()), [entry])

        def reported() -> bool:
            events, _ = agent_b.runtime.bus.since(0)
            return any(
                isinstance(e.payload, AutomationProblem)
                and e.payload.automation_id == automation_id
                and "not armed" in e.payload.message
                and "triggers.0" in e.payload.message
                for e in events
            )

        until(reported, what="B reporting the automation it cannot arm")
        until(lambda: _announced(agent_b, automation_id, "created"), what="B announcing it")
        stored = agent_b.runtime.store.automations.get(automation_id)
        assert stored.spec == spec  # kept as it came, for a version that can read it
        assert not _has_job(agent_b, automation_id)
        assert client_b.get("/api/v1/automations").json()["items"] == []
        assert _automation_entries(agent_b) == []
