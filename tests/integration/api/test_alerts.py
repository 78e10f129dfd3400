"""Alerts raised by a real agent: each kind once, repeats held back, a kind turned off silent.

The conditions are real: automations that fail through the automation
service, a service task that stops, the free space of the real disk (with a
threshold it is below), a real gnome-keyring locked under the agent.
"""

from __future__ import annotations

import gc
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.core.alert_kinds import AlertKind, setting_name
from atom_desktop.core.events import AlertRaised, Event, EventBus, ServiceStopped
from atom_desktop.runner.request import RunRequest
from atom_desktop.secrets.errors import SecretsError
from tests.integration.api.conftest import LiveAgent, start_agent
from tests.integration.api.test_automations import create, trigger_and_wait, until
from tests.support.secret_service import SecretServiceSession

#: More than any disk here has free: the real free space is "almost full" below it.
ALL_OF_IT_MIB = 1024 * 1024
DEV_FULL = Path("/dev/full")


class AlertLog:
    """Every alert a bus carries, in order."""

    def __init__(self, bus: EventBus) -> None:
        self._lock = threading.Lock()
        self._items: list[AlertRaised] = []
        self.unsubscribe = bus.subscribe(self._on_event, AlertRaised.kind)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event.payload, AlertRaised)
        with self._lock:
            self._items.append(event.payload)

    def of(self, kind: AlertKind) -> list[AlertRaised]:
        with self._lock:
            return [a for a in self._items if a.alert == kind]


@pytest.fixture
def alert_log(agent: LiveAgent) -> Iterator[AlertLog]:
    log = AlertLog(agent.runtime.bus)
    yield log
    log.unsubscribe()


def test_a_failing_automation_alerts_once_per_window_and_not_when_turned_off(
    agent: LiveAgent, alert_log: AlertLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="atom_desktop.diagnostics.alerts")
    failing = [{"type": "shell", "shell": "exit 3"}]
    with agent.client() as client:
        backup = create(client, {"name": "nightly backup", "steps": failing})
        photos = create(client, {"name": "sync photos", "steps": failing})
        quiet = create(client, {"name": "quiet", "steps": failing, "notify": {"failure": False}})

        assert trigger_and_wait(client, backup["id"])["status"] == "failed"
        (first,) = until(lambda: alert_log.of(AlertKind.AUTOMATION_FAILED), what="an alert")
        assert (first.subject, first.title, first.repeats) == (
            backup["id"],
            "nightly backup: failed",
            0,
        )
        assert "exit" in first.message

        # The same automation again, within the window: held back.
        assert trigger_and_wait(client, backup["id"])["status"] == "failed"
        until(lambda: "held back by the rate limit" in caplog.text, what="the repeat held back")
        # An automation that asks not to be told of failures: none.
        assert trigger_and_wait(client, quiet["id"])["status"] == "failed"
        # Another automation: an alert of its own, counting the one held back.
        assert trigger_and_wait(client, photos["id"])["status"] == "failed"
        until(lambda: len(alert_log.of(AlertKind.AUTOMATION_FAILED)) == 2, what="a second alert")
        second = alert_log.of(AlertKind.AUTOMATION_FAILED)[1]
        assert (second.subject, second.repeats) == (photos["id"], 1)
        assert second.message.endswith("(1 more alert of this kind held back)")

        # Turned off (as the Settings page does): a new failure raises nothing.
        agent.runtime.alerts.set_enabled(AlertKind.AUTOMATION_FAILED, False)
        caplog.clear()
        caplog.set_level("DEBUG", logger="atom_desktop.diagnostics.alerts")
        fresh = create(client, {"name": "fresh", "steps": failing})
        assert trigger_and_wait(client, fresh["id"])["status"] == "failed"
        until(lambda: "turned off" in caplog.text, what="the alert not raised")

        listed = client.get("/api/v1/alerts")
    assert listed.status_code == 200, listed.text
    assert [(a["alert"], a["subject"]) for a in listed.json()["items"]] == [
        ("automation_failed", photos["id"]),
        ("automation_failed", backup["id"]),
    ]
    assert len(alert_log.of(AlertKind.AUTOMATION_FAILED)) == 2


def test_alerts_need_the_read_scope(agent: LiveAgent) -> None:
    with agent.client(agent.make_token("run")) as client:
        assert client.get("/api/v1/alerts").status_code == 403
    with agent.client(agent.make_token("read")) as client:
        assert client.get("/api/v1/alerts").json() == {"items": []}


def test_a_service_that_stops_raises_nothing_when_its_alerts_are_off(settings: Settings) -> None:
    # On, the same failure makes one alert: test_error_reports.py.
    off = settings.model_copy(update={setting_name(AlertKind.SERVICE_STOPPED): False})
    runtime, host, _ = start_agent(off)
    log = AlertLog(runtime.bus)
    stopped = threading.Event()
    unsubscribe = runtime.bus.subscribe(lambda _: stopped.set(), ServiceStopped.kind)

    def broken_watch() -> NoReturn:
        raise RuntimeError("the process watch broke")

    runtime.runner._watch_once = broken_watch  # type: ignore[method-assign]
    try:
        host.call(
            runtime.runner.async_submit(
                RunRequest(argv=["sleep", "0.5"]), source="api", requester=None
            )
        ).result(30)
        assert stopped.wait(30), "the watch did not stop"
        assert log.of(AlertKind.SERVICE_STOPPED) == []
    finally:
        unsubscribe()
        log.unsubscribe()
        host.stop()


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_a_disk_below_the_threshold_alerts_once_from_the_agents_own_check(
    settings: Settings, enabled: bool
) -> None:
    # The threshold above the real free space: the agent's first check finds it "full".
    full = settings.model_copy(
        update={"alerts_disk_free_mib": ALL_OF_IT_MIB, setting_name(AlertKind.DISK_FULL): enabled}
    )
    runtime, host, _ = start_agent(full)
    try:
        # The agent's own check ran as it started; then two more.
        host.call(runtime.alerts.async_check()).result(30)
        host.call(runtime.alerts.async_check()).result(30)
        found = [a for a in runtime.alerts.recent() if a.kind is AlertKind.DISK_FULL]
        if enabled:
            (alert,) = found  # told once, when it became full, not at every check
            assert alert.subject == str(runtime.paths.data_dir)
            assert alert.title == "The disk is almost full"
        else:
            assert found == []
    finally:
        host.stop()


def test_a_write_that_found_the_disk_full_alerts_once(
    agent: LiveAgent, alert_log: AlertLog
) -> None:
    for _ in range(2):
        try:
            # /dev/full answers every write with ENOSPC, as a full disk does.
            with DEV_FULL.open("wb", buffering=0) as full:
                full.write(b"x")
        except OSError:
            # As every edge of the agent logs what it caught.
            logging.getLogger("atom_desktop.store.write_queue").exception("Saving failed")
    (alert,) = alert_log.of(AlertKind.DISK_FULL)  # the second within the window: held back
    assert alert.title == "The disk is full"
    assert alert.subject == str(agent.runtime.paths.data_dir)


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_a_keyring_that_locks_under_the_agent_alerts_once(
    settings: Settings, secret_service: SecretServiceSession, enabled: bool
) -> None:
    chosen = settings.model_copy(update={setting_name(AlertKind.KEYRING_LOCKED): enabled})
    runtime, host, _ = start_agent(chosen, keyring_backend=secret_service.backend())
    log = AlertLog(runtime.bus)
    try:
        key = runtime.store.key
        assert key is not None and key.keyring_backend  # the agent uses the keyring
        host.call(runtime.alerts.async_check()).result(30)
        assert log.of(AlertKind.KEYRING_LOCKED) == []

        secret_service.lock()
        host.call(runtime.alerts.async_check()).result(30)
        # Still locked at the next check, and a read that finds it locked: no second alert.
        host.call(runtime.alerts.async_check()).result(30)
        with warnings.catch_warnings():
            # keyring's Secret Service backend leaves its D-Bus connection open when
            # the collection stays locked (get_preferred_collection raises before the
            # caller's closing()); collected here, its warning is not this test's.
            warnings.simplefilter("ignore", ResourceWarning)
            with pytest.raises(SecretsError, match="locked"):
                runtime.vault.get("an-entry-never-read")
            gc.collect()
        found = log.of(AlertKind.KEYRING_LOCKED)
        if enabled:
            (alert,) = found
            assert alert.title == "The OS keyring is locked"
        else:
            assert found == []
    finally:
        log.unsubscribe()
        host.stop()
