"""The runtime starts services in order, stops them in reverse, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading

import keyring.backends.fail
import pytest

from atom_desktop.agent_thread import AgentThread
from atom_desktop.config.settings import Settings
from atom_desktop.core.events import AgentStateChanged, Event
from atom_desktop.runtime import Runtime
from atom_desktop.secrets.errors import SecretsError
from atom_desktop.store.task_types import TaskCreate
from tests.support.secret_service import SecretServiceSession


def test_the_agent_thread_uses_the_real_keyring_and_stops_cleanly(
    secret_service: SecretServiceSession, settings: Settings
) -> None:
    states: list[str] = []
    runtime = Runtime(settings, keyring_backend=secret_service.backend())
    runtime.bus.subscribe(
        lambda e: (
            states.append(e.payload.state) if isinstance(e.payload, AgentStateChanged) else None
        )
    )
    agent = AgentThread(lambda: runtime)
    agent.start_and_wait()
    try:
        assert runtime.state == "running"
        assert runtime.store.key is not None
        assert runtime.store.key.storage == "keyring"
        task = runtime.store.tasks.create(TaskCreate(title="from another thread"))
        assert runtime.store.tasks.get(task.id).title == "from another thread"
    finally:
        agent.stop()
    assert states == ["starting", "running", "stopping", "stopped"]
    assert not any(t.name == "atom-agent" for t in threading.enumerate())


def test_async_start_stop_leaves_no_tasks(settings: Settings) -> None:
    async def scenario() -> set[asyncio.Task[object]]:
        runtime = Runtime(settings, keyring_backend=keyring.backends.fail.Keyring())
        await runtime.async_start()
        await runtime.async_stop()
        current = asyncio.current_task()
        return {t for t in asyncio.all_tasks() if t is not current and not t.done()}

    assert asyncio.run(scenario()) == set()


def test_serve_stops_on_sigterm(settings: Settings) -> None:
    runtime = Runtime(settings, keyring_backend=keyring.backends.fail.Keyring())

    def on_event(event: Event) -> None:
        if isinstance(event.payload, AgentStateChanged) and event.payload.state == "running":
            os.kill(os.getpid(), signal.SIGTERM)

    runtime.bus.subscribe(on_event)
    runtime.serve()  # returns only once the signal stopped it
    assert runtime.state == "stopped"
    # The handler is gone again: SIGTERM is back to its default.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_failed_start_stops_what_started_and_raises_the_reason(paths_strict: Settings) -> None:
    runtime = Runtime(paths_strict, keyring_backend=keyring.backends.fail.Keyring())
    with pytest.raises(SecretsError, match="ATOM_KEY_STORAGE=keyring"):
        AgentThread(lambda: runtime).start_and_wait()
    assert runtime.state == "failed"


def test_collection_held_off_for_the_start_is_back_once_the_agent_runs(settings: Settings) -> None:
    gc.disable()  # as the command line does for the agent (cli.hold_collection)
    try:
        runtime = Runtime(settings, keyring_backend=keyring.backends.fail.Keyring())
        agent = AgentThread(lambda: runtime)
        agent.start_and_wait()
        try:
            assert gc.isenabled()
        finally:
            agent.stop()
    finally:
        gc.enable()


def test_collection_held_off_for_the_start_is_back_when_the_start_fails(
    paths_strict: Settings,
) -> None:
    gc.disable()
    try:
        runtime = Runtime(paths_strict, keyring_backend=keyring.backends.fail.Keyring())
        with pytest.raises(SecretsError):
            AgentThread(lambda: runtime).start_and_wait()
        assert gc.isenabled()
    finally:
        gc.enable()


class _Recorder:
    def __init__(self, name: str, log: list[str], hang: bool = False) -> None:
        self.name = name
        self._log = log
        self._hang = hang

    async def async_start(self) -> None:
        self._log.append(f"start {self.name}")

    async def async_stop(self) -> None:
        self._log.append(f"stop {self.name}")
        if self._hang:
            await asyncio.Event().wait()


def test_services_stop_in_reverse_and_a_hanging_one_is_bounded(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    bounded = settings.model_copy(update={"shutdown_timeout_s": 0.5})
    runtime = Runtime(bounded, keyring_backend=keyring.backends.fail.Keyring())
    log: list[str] = []
    runtime.services += [_Recorder("a", log), _Recorder("b", log, hang=True), _Recorder("c", log)]
    agent = AgentThread(lambda: runtime)
    agent.start_and_wait()
    with caplog.at_level(logging.ERROR):
        agent.stop()
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert "Service b did not stop" in caplog.text
    assert runtime.state == "stopped"


@pytest.fixture
def paths_strict(settings: Settings) -> Settings:
    return settings.model_copy(update={"key_storage": "keyring"})
