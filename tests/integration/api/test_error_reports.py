"""An unexpected failure inside a service, or behind an API answer, becomes one
redacted error report that the API lists and returns (and nothing else sees);
one that stops a service is also one alert (the window's notification)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, NoReturn

import pytest

from atom_desktop.config.logging_setup import configure_logging
from atom_desktop.core.events import AlertRaised, Event, RunChanged, ServiceStopped
from atom_desktop.diagnostics.reports import REPORTS_DIR_NAME
from tests.integration.api.conftest import LiveAgent

SECRET = "known-secret-of-the-agent-1234"


@pytest.fixture
def logged(agent: LiveAgent) -> Any:
    """The agent's log file, as ``serve`` writes it (the reports quote its last lines)."""
    runtime = agent.runtime
    runtime.redactor.add(SECRET)
    handle = configure_logging(
        level="INFO", log_dir=runtime.paths.log_dir, redactor=runtime.redactor, console=None
    )
    yield agent
    handle.close()


def _reports_on_disk(agent: LiveAgent) -> list[str]:
    folder = agent.runtime.paths.data_dir / REPORTS_DIR_NAME
    return [p.read_text() for p in folder.glob("*.json")] if folder.exists() else []


def test_a_failure_inside_the_runner_makes_one_report_without_the_secret(
    logged: LiveAgent,
) -> None:
    agent = logged
    runtime = agent.runtime

    async def broken_run(run: object) -> NoReturn:
        raise RuntimeError(f"the runner broke while holding {SECRET}")

    runtime.runner._run = broken_run  # type: ignore[method-assign]
    ended = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event.payload, RunChanged) and event.payload.status == "failed":
            ended.set()

    unsubscribe = runtime.bus.subscribe(on_event)
    logging.getLogger("atom_desktop.test").info("starting a run with %s", SECRET)
    try:
        with agent.client() as client:
            response = client.post("/api/v1/runs", json={"argv": ["true"]})
            assert response.status_code == 201, response.text
            assert ended.wait(30), "the run was not recorded as failed"
            listed = client.get("/api/v1/diagnostics/reports")
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
            assert len(items) == 1
            assert items[0]["what"] == "RuntimeError: the runner broke while holding ***"
            assert items[0]["where"].startswith("atom_desktop.runner.service:_lifecycle")
            report = client.get(f"/api/v1/diagnostics/reports/{items[0]['id']}")
            assert report.status_code == 200, report.text
            body = report.json()
    finally:
        unsubscribe()
    assert "broken_run" in body["stack"]
    assert any("starting a run with ***" in line for line in body["log"])
    files = _reports_on_disk(agent)
    assert len(files) == 1
    assert json.loads(files[0])["id"] == items[0]["id"]
    for text in (*files, json.dumps(body)):
        assert SECRET not in text
        assert agent.owner_token not in text


def test_a_service_task_that_stops_makes_one_report_and_one_alert_without_the_secret(
    logged: LiveAgent,
) -> None:
    agent = logged
    runtime = agent.runtime
    alerts: list[AlertRaised] = []
    stopped = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event.payload, AlertRaised):
            alerts.append(event.payload)
        if isinstance(event.payload, ServiceStopped):
            stopped.set()

    def broken_watch() -> NoReturn:
        raise RuntimeError(f"the process watch broke while holding {SECRET}")

    # The runner's process watch looks at every run's processes: it breaks at the next look.
    runtime.runner._watch_once = broken_watch  # type: ignore[method-assign]
    unsubscribe = runtime.bus.subscribe(on_event)
    try:
        with agent.client() as client:
            response = client.post("/api/v1/runs", json={"argv": ["sleep", "0.5"]})
            assert response.status_code == 201, response.text
            assert stopped.wait(30), "the watch did not stop"
            items = client.get("/api/v1/diagnostics/reports").json()["items"]
            listed = client.get("/api/v1/alerts").json()["items"]
    finally:
        unsubscribe()
    assert len(items) == 1
    assert items[0]["what"] == "RuntimeError: the process watch broke while holding ***"
    assert items[0]["where"] == "service: runner's process watch (runner-watch)"
    (alert,) = alerts
    assert alert.alert == "service_stopped"
    assert alert.title == "Part of ATOM Desktop stopped: runner's process watch"
    assert [a["title"] for a in listed] == [alert.title]
    files = _reports_on_disk(agent)
    assert len(files) == 1
    for text in (*files, alert.title, alert.message):
        assert SECRET not in text
        assert agent.owner_token not in text


def test_a_500_answer_has_its_report_before_the_client_reads_it(logged: LiveAgent) -> None:
    agent = logged
    runtime = agent.runtime

    def broken_page(**kwargs: object) -> NoReturn:
        raise ValueError(f"audit page failed, token={agent.owner_token} key {SECRET}")

    runtime.store.audit.page = broken_page  # type: ignore[method-assign,assignment]
    with agent.client() as client:
        response = client.get("/api/v1/audit")
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error"
        assert SECRET not in response.text
        # The connection is still good for the next request.
        items = client.get("/api/v1/diagnostics/reports").json()["items"]
    assert len(items) == 1
    assert items[0]["where"].startswith("atom_desktop.api.failures:")
    files = _reports_on_disk(agent)
    assert len(files) == 1
    assert SECRET not in files[0]
    assert agent.owner_token not in files[0]
    assert "GET /api/v1/audit" in json.loads(files[0])["message"]


def test_reports_need_the_read_scope_and_unknown_ids_are_404(agent: LiveAgent) -> None:
    with agent.client() as client:
        assert client.get("/api/v1/diagnostics/reports").json() == {"items": []}
        missing = client.get("/api/v1/diagnostics/reports/20260101T000000000000Z-00000000")
        assert missing.status_code == 404
        assert client.get("/api/v1/diagnostics/reports/..%2Fconfig").status_code in (404, 422)
    run_only = agent.make_token("run")
    with agent.client(run_only) as client:
        assert client.get("/api/v1/diagnostics/reports").status_code == 403
    with agent.client(agent.make_token("read")) as client:
        assert client.get("/api/v1/diagnostics/reports").status_code == 200
