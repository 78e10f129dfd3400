"""The update service in a real agent: deferral while a real run is active, then the handover.

The agent, its runner, its event bus and its runs are real; the install, the
update server and the handover are the real code (the versions are stand-in
programs, see tests/support/update_builds.py). The service runs on the
agent's loop, as in the app.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

import psutil
import pytest

from atom_desktop.config.settings import Settings
from atom_desktop.core.events import Event
from atom_desktop.runtime import Runtime
from atom_desktop.updates.app_updates import async_confirm_trial
from atom_desktop.updates.handover import (
    HandoverPlan,
    handover_program,
    perform_handover,
    read_outcome,
    state_dir_of,
)
from atom_desktop.updates.markers import TRIAL_ENV
from atom_desktop.updates.service import (
    AppHandover,
    RunControl,
    UpdateService,
    UpdateTiming,
)
from atom_desktop.updates.status import UpdateState, UpdateStatusChanged
from atom_desktop.updates.trial import confirmed_pid
from tests.integration.api.conftest import LiveAgent, live_agent
from tests.integration.updates.conftest import INSTALLED, UpdateLab
from tests.support.processes import stop_pid
from tests.support.update_builds import tree_fingerprint

T = TypeVar("T")


@pytest.fixture
def agent(settings: Settings) -> Iterator[LiveAgent]:
    with live_agent(settings) as live:
        yield live


def _on_agent(agent: LiveAgent, coro: Coroutine[Any, Any, T]) -> T:
    return agent.host.call(coro).result(30)


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _state(service: UpdateService) -> UpdateState:
    """The state now (a call, so a type checker does not carry an earlier check over)."""
    return service.status.state


def _handover(service: UpdateService) -> subprocess.Popen[bytes] | None:
    return service.handover_process


def _runs(runtime: Runtime) -> RunControl:
    runner = runtime.runner
    return RunControl(
        active=lambda: len(runner.active_runs()),
        paused=lambda: runner.paused,
        pause=runner.async_pause,
        resume=runner.async_resume,
    )


def _service(
    lab: UpdateLab, agent: LiveAgent, app: subprocess.Popen[bytes] | None
) -> UpdateService:
    def quit_app() -> None:
        # The stand-in app quits as the real one does when asked (and is reaped).
        if app is not None:
            app.terminate()
            app.wait(10)

    return UpdateService(
        updater=lab.updater(),
        layout=lab.layout,
        installed=INSTALLED,
        off_reason=None,
        bus=agent.runtime.bus,
        runs=_runs(agent.runtime),
        handover=AppHandover(
            program=handover_program(frozen=False, executable=Path(sys.executable)),
            app_args=["serve"],
            pid=app.pid if app is not None else os.getpid(),
            env=dict(os.environ),
            quit=quit_app,
        ),
        timing=UpdateTiming(first_check_s=0, interval_s=3600, start_timeout_s=30),
    )


def test_a_good_update_waits_for_the_active_run_then_applies(
    lab: UpdateLab, agent: LiveAgent, old_app: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    lab.release("0.2.0", "starts")
    states: list[str] = []
    unsubscribe = agent.runtime.bus.subscribe(
        lambda event: states.append(cast(UpdateStatusChanged, event.payload).state),
        UpdateStatusChanged.kind,
    )
    gate = tmp_path / "gate"
    with agent.client() as client:
        run = client.post(
            "/api/v1/runs",
            json={"argv": ["sh", "-c", f"while [ ! -e '{gate}' ]; do sleep 0.05; done"]},
        )
        assert run.status_code in (200, 201, 202), run.text
    run_id = run.json()["id"]
    _until(lambda: agent.runtime.runner.is_active(run_id), "the run to start")

    service = _service(lab, agent, old_app)
    _on_agent(agent, service.async_start())
    result = None
    try:
        _until(lambda: service.status.state is UpdateState.READY, "the download")
        assert service.status.available == "0.2.0"
        assert service.status.notes == "Version 0.2.0: faster start."
        before = tree_fingerprint(lab.root)

        status = _on_agent(agent, service.async_apply())
        assert status.state is UpdateState.DEFERRED
        assert status.runs_active == 1
        assert status.message is not None and "1 run is active" in status.message
        # Nothing is installed or stopped while the run goes on.
        # Observed for a bounded moment (several of the service's run counts): a
        # wrong apply would start the handover at once.
        time.sleep(0.3)
        assert service.status.state is UpdateState.DEFERRED
        assert _handover(service) is None
        assert old_app.poll() is None
        assert tree_fingerprint(lab.root) == before

        gate.touch()  # the run ends
        _until(lambda: _handover(service) is not None, "the handover to start")
        assert _state(service) is UpdateState.HANDING_OVER
        handover = _handover(service)
        assert handover is not None
        assert handover.wait(60) == 0, (state_dir_of(lab.root) / "handover.log").read_text()
        result = read_outcome(state_dir_of(lab.root))
        assert result is not None and result.outcome == "updated", result
        assert lab.layout.installed_version() == "0.2.0"
        assert old_app.poll() is not None  # the old app quit for the handover
        assert result.pid is not None and psutil.pid_exists(result.pid)
        with agent.client() as client:
            record = client.get(f"/api/v1/runs/{run_id}").json()
        assert record["status"] == "succeeded", record
        assert states.index("deferred") < states.index("applying")
        # The app is told to quit only once the handover runs.
        assert states[-1] == "handing_over"
    finally:
        unsubscribe()
        _on_agent(agent, service.async_stop())
        stop_pid(result.pid if result is not None else None)


def test_after_a_rollback_the_failed_version_is_reported_and_not_offered_again(
    lab: UpdateLab, agent: LiveAgent
) -> None:
    lab.release("0.2.0", "crashes")
    updater = lab.updater()
    manifest = updater.check()
    assert manifest is not None
    updater.prepare(manifest, updater.download(manifest))
    plan = HandoverPlan(str(lab.root), "0.2.0", INSTALLED, None, start_timeout_s=10)
    perform_handover(plan, lab.layout, state_dir_of(lab.root), dict(os.environ))

    # The app (the previous version) starts again and says what happened.
    service = _service(lab, agent, None)
    events: list[Event] = []
    unsubscribe = agent.runtime.bus.subscribe(events.append, "update.status")
    _on_agent(agent, service.async_start())
    try:
        first = cast(UpdateStatusChanged, events[0].payload)
        assert first.state == "rolled_back"
        assert first.message is not None
        assert first.message.startswith("Rolled back to 0.1.0: version 0.2.0 failed to start")
        _until(lambda: service.status.state is UpdateState.FAILED, "the check")
        assert service.status.message is not None
        assert "failed to start here before" in service.status.message
        assert lab.layout.installed_version() == INSTALLED
    finally:
        unsubscribe()
        _on_agent(agent, service.async_stop())


def test_the_agent_from_source_says_updates_are_off(agent: LiveAgent) -> None:
    read = agent.make_token("read")
    with agent.client(read) as client:
        status = client.get("/api/v1/updates")
        assert status.status_code == 200
        body = status.json()
        assert body["state"] == "off"
        assert body["message"] == "Running from source: update with git."
        assert client.post("/api/v1/updates/apply").status_code == 403
    with agent.client() as client:
        refused = client.post("/api/v1/updates/apply")
        assert refused.status_code == 409
        assert "No update is ready" in refused.json()["error"]["message"]
        assert client.post("/api/v1/updates/check").status_code == 409


def test_a_version_on_trial_confirms_once_its_agent_answers_health(
    agent: LiveAgent, tmp_path: Path
) -> None:
    trial_file = tmp_path / "trial"
    environ = {TRIAL_ENV: str(trial_file), "HOME": str(tmp_path)}
    confirmed = _on_agent(agent, async_confirm_trial(f"{agent.base_url}/api/v1/health", environ))
    assert confirmed
    assert confirmed_pid(trial_file) == os.getpid()
    # Programs the app runs later do not inherit the marker.
    assert TRIAL_ENV not in environ


def test_an_install_that_fails_on_the_file_system_resumes_runs_and_says_why(
    lab: UpdateLab, agent: LiveAgent, old_app: subprocess.Popen[bytes]
) -> None:
    lab.release("0.2.0", "starts")
    service = _service(lab, agent, old_app)
    _on_agent(agent, service.async_start())
    try:
        _until(lambda: service.status.state is UpdateState.READY, "the download")
        # What the unpacked version is renamed to is taken by a file.
        (lab.root / "versions" / "0.2.0").write_text("in the way", encoding="utf-8")
        status = _on_agent(agent, service.async_apply())
        assert status.state is UpdateState.FAILED
        assert status.message is not None
        assert "could not be unpacked" in status.message
        assert "The installed app is unchanged" in status.message
        assert not agent.runtime.runner.paused
        assert _handover(service) is None
        assert old_app.poll() is None
        assert lab.layout.installed_version() == INSTALLED
    finally:
        _on_agent(agent, service.async_stop())


def test_two_applies_at_once_hand_over_once(
    lab: UpdateLab, agent: LiveAgent, old_app: subprocess.Popen[bytes]
) -> None:
    lab.release("0.2.0", "starts")
    states: list[str] = []
    unsubscribe = agent.runtime.bus.subscribe(
        lambda event: states.append(cast(UpdateStatusChanged, event.payload).state),
        UpdateStatusChanged.kind,
    )
    service = _service(lab, agent, old_app)
    runner = agent.runtime.runner

    async def pause() -> None:
        # The runner's pause waits for its queue's lock when a run holds it; a
        # test cannot arrange that on cue, so the wait is a yield here.
        await asyncio.sleep(0)
        await runner.async_pause()

    service._runs = replace(service._runs, pause=pause)
    _on_agent(agent, service.async_start())
    result = None
    try:
        _until(lambda: service.status.state is UpdateState.READY, "the download")

        async def both() -> tuple[object, object]:
            # "Install now" twice, or once as the deferred wait applies.
            return await asyncio.gather(
                service.async_apply(), service.async_apply(), return_exceptions=True
            )

        outcomes = _on_agent(agent, both())
        assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
        handover = _handover(service)
        assert handover is not None
        assert handover.wait(60) == 0, (state_dir_of(lab.root) / "handover.log").read_text()
        result = read_outcome(state_dir_of(lab.root))
        assert result is not None and result.outcome == "updated", result
        assert states.count("applying") == 1, states
        assert states.count("handing_over") == 1, states
    finally:
        unsubscribe()
        _on_agent(agent, service.async_stop())
        stop_pid(result.pid if result is not None else None)


def test_check_now_while_an_update_is_ready_finds_a_newer_one(
    lab: UpdateLab, agent: LiveAgent
) -> None:
    lab.release("0.2.0", "starts")
    service = _service(lab, agent, None)
    _on_agent(agent, service.async_start())
    try:
        _until(lambda: service.status.state is UpdateState.READY, "the download")
        assert service.status.message == (
            "Version 0.2.0 is downloaded and verified; Install now restarts the app in it."
        )

        # A check that fails keeps the ready update installable.
        del lab.server.files["/stable/manifest.json"]
        _on_agent(agent, service.async_check_now())
        _until(
            lambda: "The last check failed" in (service.status.message or ""),
            "the failed check",
            timeout=20,
        )
        assert _state(service) is UpdateState.READY
        assert service.status.available == "0.2.0"

        lab.release("0.3.0", "starts")
        _on_agent(agent, service.async_check_now())
        _until(lambda: service.status.available == "0.3.0", "the newer release", timeout=20)
        _until(lambda: service.status.state is UpdateState.READY, "its download")
        assert service.status.message is not None and "Version 0.3.0" in service.status.message
        # Only the newer build is kept.
        assert sorted(p.name for p in lab.cache.iterdir()) == ["atom-desktop-0.3.0.tar.gz"]
    finally:
        _on_agent(agent, service.async_stop())


def test_an_install_others_could_change_is_not_updated(
    lab: UpdateLab, agent: LiveAgent, old_app: subprocess.Popen[bytes]
) -> None:
    lab.release("0.2.0", "starts")
    service = _service(lab, agent, old_app)
    _on_agent(agent, service.async_start())
    try:
        _until(lambda: service.status.state is UpdateState.READY, "the download")
        lab.root.chmod(0o775)
        status = _on_agent(agent, service.async_apply())
        assert status.state is UpdateState.FAILED
        assert status.message is not None
        assert f"The install folder {lab.root} can be changed by other users" in status.message
        assert "chmod go-w" in status.message
        assert not agent.runtime.runner.paused
        assert _handover(service) is None
        assert not lab.layout.version_dir("0.2.0").exists()  # nothing unpacked
    finally:
        _on_agent(agent, service.async_stop())
