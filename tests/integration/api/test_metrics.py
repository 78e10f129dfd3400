"""GET /api/v1/metrics after a known workload, read with prometheus_client's own parser."""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.integration.api.conftest import LiveAgent

RUNS = 3
TASK_LISTS = 7
FIRES = 2
#: Every family the endpoint promises (counters by their name without _total).
FAMILIES = {
    "atom_http_requests": "counter",
    "atom_http_request_duration_seconds": "histogram",
    "atom_rate_limited_requests": "counter",
    "atom_websocket_sessions": "counter",
    "atom_websocket_sessions_open": "gauge",
    "atom_runs_started": "counter",
    "atom_runs_ended": "counter",
    "atom_runs_running": "gauge",
    "atom_runs_queued": "gauge",
    "atom_run_output_bytes": "counter",
    "atom_automation_fires": "counter",
    "atom_automation_fire_lateness_seconds": "histogram",
    "atom_sync_enabled": "gauge",
    "atom_sync_queue_depth": "gauge",
    "atom_sync_lag_seconds": "gauge",
    "atom_store_size_bytes": "gauge",
    "atom_store_write_wait_seconds": "histogram",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_threads": "gauge",
    "atom_event_bus_subscribers": "gauge",
}


def scrape(client: httpx.Client) -> dict[str, tuple[str, list[Sample]]]:
    response = client.get("/api/v1/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        family.name: (family.type, list(family.samples))
        for family in text_string_to_metric_families(response.text)
    }


def value(
    families: dict[str, tuple[str, list[Sample]]], name: str, sample: str, **labels: str
) -> float:
    """The value of the one sample ``sample`` of family ``name`` with ``labels``."""
    found = [
        s.value
        for s in families[name][1]
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, sample, labels, families[name][1])
    return float(found[0])


def answered(
    families: dict[str, tuple[str, list[Sample]]], method: str, route: str, status: str
) -> float:
    """Requests counted with these labels."""
    name = "atom_http_requests"
    return value(families, name, f"{name}_total", method=method, route=route, status=status)


def wait_for(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


def run_to_end(agent: LiveAgent, client: httpx.Client, text: str) -> None:
    started = client.post(
        "/api/v1/runs", json={"argv": [sys.executable, "-c", f"print({text!r}, end='')"]}
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    runner = agent.runtime.runner
    # Until the runner has let go of it (its end is counted before that).
    wait_for(lambda: not runner.is_active(run_id) and runner.running_count == 0, run_id)
    assert client.get(f"/api/v1/runs/{run_id}").json()["status"] == "succeeded"


def test_every_family_after_a_known_workload(agent: LiveAgent) -> None:
    reader = agent.make_token("read")
    with agent.client() as owner:
        for i in range(RUNS):
            run_to_end(agent, owner, f"run {i}")  # 5 bytes each
        automation = owner.post(
            "/api/v1/automations",
            json={"name": "counted", "steps": [{"type": "notify", "title": "fired"}]},
        ).json()
        for _ in range(FIRES):
            fired = owner.post(f"/api/v1/automations/{automation['id']}/trigger", json={})
            assert fired.status_code == 202, fired.text
        for _ in range(TASK_LISTS):
            assert owner.get("/api/v1/tasks").status_code == 200
        assert owner.get("/api/v1/no/such/thing").status_code == 404
    with httpx.Client(base_url=agent.base_url) as anonymous:
        assert anonymous.get("/api/v1/tasks").status_code == 401

    with agent.client(reader) as client:
        families = scrape(client)

    assert {name: kind for name, (kind, _) in families.items()} == FAMILIES
    # Requests: by method, route template and status; the histogram counts each.
    assert answered(families, "GET", "/api/v1/tasks", "200") == TASK_LISTS
    assert answered(families, "GET", "/api/v1/tasks", "401") == 1
    assert answered(families, "GET", "(unmatched)", "404") == 1
    assert answered(families, "POST", "/api/v1/runs", "201") == RUNS
    tasks = {"method": "GET", "route": "/api/v1/tasks", "status": "200"}
    duration = "atom_http_request_duration_seconds"
    count = value(families, duration, f"{duration}_count", **tasks)
    inf = value(families, duration, f"{duration}_bucket", le="+Inf", **tasks)
    assert count == inf == TASK_LISTS
    # Runs: started, ended by outcome, their output.
    assert value(families, "atom_runs_started", "atom_runs_started_total") == RUNS
    assert value(families, "atom_runs_ended", "atom_runs_ended_total", outcome="succeeded") == RUNS
    assert value(families, "atom_runs_ended", "atom_runs_ended_total", outcome="failed") == 0
    assert value(families, "atom_runs_running", "atom_runs_running") == 0
    assert value(families, "atom_runs_queued", "atom_runs_queued") == 0
    assert (
        value(families, "atom_run_output_bytes", "atom_run_output_bytes_total", stream="stdout")
        == 5 * RUNS
    )
    # Automations: the API's fires, counted by trigger kind.
    assert (
        value(families, "atom_automation_fires", "atom_automation_fires_total", trigger="api")
        == FIRES
    )
    # Sync is off here: nothing waits.
    assert value(families, "atom_sync_enabled", "atom_sync_enabled") == 0
    assert value(families, "atom_sync_queue_depth", "atom_sync_queue_depth") == 0
    # The store and the process.
    assert value(families, "atom_store_size_bytes", "atom_store_size_bytes", file="database") > 0
    writes = value(families, "atom_store_write_wait_seconds", "atom_store_write_wait_seconds_count")
    assert writes > 0
    assert value(families, "process_resident_memory_bytes", "process_resident_memory_bytes") > 0
    assert value(families, "process_open_fds", "process_open_fds") > 0
    assert value(families, "process_threads", "process_threads") > 1
    assert value(families, "atom_event_bus_subscribers", "atom_event_bus_subscribers") > 0


def test_metrics_need_the_read_scope(agent: LiveAgent) -> None:
    runner = agent.make_token("run")
    with agent.client(runner) as client:
        assert client.get("/api/v1/metrics").status_code == 403
    with httpx.Client(base_url=agent.base_url) as anonymous:
        assert anonymous.get("/api/v1/metrics").status_code == 401


def test_two_agents_in_one_process_count_apart(agent: LiveAgent, tmp_path: Any) -> None:
    """A registry per agent: one agent's requests are not the other's."""
    from atom_desktop.config.settings import Settings  # noqa: PLC0415
    from tests.integration.api.conftest import live_agent  # noqa: PLC0415

    other_dir = tmp_path / "other"
    settings = Settings(data_dir=other_dir / "data", config_dir=other_dir / "config", port=0)
    with live_agent(settings) as other:
        with agent.client() as client:
            for _ in range(3):
                client.get("/api/v1/tasks")
            first = scrape(client)
        with other.client() as client:
            second = scrape(client)
    assert answered(first, "GET", "/api/v1/tasks", "200") == 3
    assert not [
        s for s in second["atom_http_requests"][1] if s.labels.get("route") == "/api/v1/tasks"
    ]


def test_websocket_sessions_are_counted_open_and_ended(agent: LiveAgent) -> None:
    url = agent.base_url.replace("http://", "ws://") + "/api/v1/events/ws"
    route = "/api/v1/events/ws"

    def sessions(families: dict[str, tuple[str, list[Sample]]], status: str) -> float:
        name = "atom_websocket_sessions"
        found = [
            s.value
            for s in families[name][1]
            if s.name == f"{name}_total" and s.labels == {"route": route, "status": status}
        ]
        return found[0] if found else 0.0

    with agent.client() as client:
        subscribers = value(
            scrape(client), "atom_event_bus_subscribers", "atom_event_bus_subscribers"
        )
        with ws_connect(
            url,
            additional_headers={"Authorization": f"Bearer {agent.owner_token}"},
            open_timeout=10,
        ):
            during = scrape(client)
            with pytest.raises(InvalidStatus) as refused:
                ws_connect(url, open_timeout=10)  # no token
            assert refused.value.response.status_code == 403
        assert value(during, "atom_websocket_sessions_open", "atom_websocket_sessions_open") == 1
        assert sessions(during, "101") == 0

        # The session's end reaches the agent after the client has closed.
        def ended() -> dict[str, tuple[str, list[Sample]]] | None:
            families = scrape(client)
            return families if sessions(families, "101") == 1 else None

        after = wait_for(ended, "the session's end")
    assert value(after, "atom_websocket_sessions_open", "atom_websocket_sessions_open") == 0
    assert sessions(after, "403") == 1
    # Its subscription ended with it, though no event came to find the socket closed.
    assert value(after, "atom_event_bus_subscribers", "atom_event_bus_subscribers") == subscribers
