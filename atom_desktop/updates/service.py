"""The update service: checks at start and daily, downloads, and applies when asked.

A newer signed release is downloaded and verified as soon as it is seen;
installing it waits for the user ("Install now" or ``POST /updates/apply``)
and then for every run to end (the status says "deferred" meanwhile). The
install itself is a handover: the new version is unpacked beside this one,
a handover process is started and this app quits, so the new version can
take the port and the data directory (see :mod:`atom_desktop.updates.handover`).
Every change of status is published on the event bus as ``update.status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atom_desktop.core.events import Event, EventBus, RunChanged
from atom_desktop.updates.errors import UpdateError
from atom_desktop.updates.handover import (
    HandoverPlan,
    launch_handover,
    process_created,
    read_outcome,
    state_dir_of,
)
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.manifest import Manifest
from atom_desktop.updates.ownership import check_private, make_state_dir
from atom_desktop.updates.status import UpdateState, UpdateStatus, UpdateStatusChanged
from atom_desktop.updates.updater import Updater

logger = logging.getLogger(__name__)

_PROGRESS_EVERY_S = 0.25
#: While deferred, runs are counted again at least this often (besides on every run event).
_DEFERRED_POLL_S = 1.0


@dataclass(frozen=True)
class UpdateTiming:
    """When to check, and how long a new version has to confirm its start."""

    first_check_s: float = 30.0
    interval_s: float = 24 * 3600.0
    #: After a failed check (offline, server down, a refused manifest).
    retry_s: float = 3600.0
    start_timeout_s: float = 60.0
    quit_timeout_s: float = 60.0


@dataclass(frozen=True)
class AppHandover:
    """How this app hands over to a new version.

    ``program`` starts the handover; ``app_args`` are given to the new
    version (and to this one again on a rollback); ``quit`` stops this app
    so that its agent releases the port and the data directory.
    """

    program: list[str]
    app_args: list[str]
    pid: int
    env: Mapping[str, str]
    quit: Callable[[], None]


@dataclass(frozen=True)
class RunControl:
    """What the service needs from the runner: how many runs are active, and a pause."""

    active: Callable[[], int]
    paused: Callable[[], bool]
    pause: Callable[[], Awaitable[None]]
    resume: Callable[[], Awaitable[None]]


class UpdateService:
    """Checks for, downloads and applies signed updates; see the module docstring."""

    name = "updates"

    def __init__(
        self,
        *,
        updater: Updater | None,
        layout: LinuxLayout | None,
        installed: str,
        off_reason: str | None,
        bus: EventBus,
        runs: RunControl,
        handover: AppHandover | None,
        timing: UpdateTiming | None = None,
        on_started: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._updater = updater
        self._layout = layout
        self._bus = bus
        self._runs = runs
        self._handover = handover
        self._timing = timing or UpdateTiming()
        self._on_started = on_started
        self._lock = threading.Lock()
        self._status = UpdateStatus(
            UpdateState.OFF if off_reason or updater is None else UpdateState.IDLE,
            installed,
            message=off_reason,
        )
        self._manifest: Manifest | None = None
        self._artifact: Path | None = None
        self._apply_wanted = False
        self._applying = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._check_now: asyncio.Event | None = None
        self._runs_changed: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_progress = 0.0
        self._stopping = False
        #: The handover process once started (the app quits right after).
        self.handover_process: subprocess.Popen[bytes] | None = None

    # -- status -----------------------------------------------------------------------

    @property
    def status(self) -> UpdateStatus:
        """The status now."""
        return self._status

    @property
    def enabled(self) -> bool:
        """Whether this copy checks for updates."""
        return self._updater is not None and self._status.state is not UpdateState.OFF

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)  # type: ignore[arg-type]
            status = self._status
        self._bus.publish(
            UpdateStatusChanged(
                state=status.state.value,
                message=status.message,
                available=status.available,
                received=status.received,
                total=status.total,
                runs_active=status.runs_active,
            )
        )

    # -- lifecycle --------------------------------------------------------------------

    async def async_start(self) -> None:
        """Report the last handover's outcome, then check after a short delay (if enabled)."""
        self._loop = asyncio.get_running_loop()
        if self._on_started is not None:
            self._tasks.append(asyncio.create_task(self._on_started(), name="update-trial"))
        if self._status.state is UpdateState.OFF or self._updater is None:
            logger.info("Updates are off: %s", self._status.message)
            return
        if self._layout is not None:
            outcome = await asyncio.to_thread(read_outcome, state_dir_of(self._layout.root))
            if outcome is not None:
                state = {
                    "updated": UpdateState.UPDATED,
                    "rolled_back": UpdateState.ROLLED_BACK,
                }.get(outcome.outcome, UpdateState.FAILED)
                logger.log(
                    logging.INFO if state is UpdateState.UPDATED else logging.ERROR,
                    "%s",
                    outcome.message,
                )
                self._set(state=state, message=outcome.message)
        self._check_now = asyncio.Event()
        self._runs_changed = asyncio.Event()
        self._unsubscribe = self._bus.subscribe(self._on_run_changed, RunChanged.kind)
        self._tasks.append(asyncio.create_task(self._async_main(), name="update-checks"))

    async def async_stop(self) -> None:
        """Stop checking; a download in progress is abandoned (its partial file deleted)."""
        # The download's thread cannot be cancelled; its next chunk sees this and ends it.
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # -- what the API and the window call ---------------------------------------------

    async def async_check_now(self) -> UpdateStatus:
        """Check again now (the checks' loop wakes up); returns the status at once."""
        if self._check_now is None:
            raise UpdateError(self._status.message or "Updates are off.")
        self._check_now.set()
        return self._status

    async def async_apply(self) -> UpdateStatus:
        """Install the downloaded update as soon as no run is active.

        Raises UpdateError when there is nothing ready to install.
        """
        if self._status.state not in (UpdateState.READY, UpdateState.DEFERRED):
            raise UpdateError(
                "No update is ready to install"
                + (f" (updates: {self._status.state.value})." if self.enabled else ".")
                + (f" {self._status.message}" if self._status.message else "")
            )
        self._apply_wanted = True
        await self._async_try_apply()
        return self._status

    # -- checks -------------------------------------------------------------------------

    async def _async_main(self) -> None:
        assert self._check_now is not None
        await self._async_sleep_or_wake(self._timing.first_check_s)
        while True:
            # Also while an update is ready: a newer release replaces it.
            if not self._applying.locked() and self._status.state not in (
                UpdateState.DEFERRED,
                UpdateState.APPLYING,
                UpdateState.HANDING_OVER,
            ):
                await self._async_check()
            failed = self._status.state is UpdateState.FAILED
            timing = self._timing
            await self._async_sleep_or_wake(
                min(timing.retry_s, timing.interval_s) if failed else timing.interval_s
            )

    async def _async_sleep_or_wake(self, seconds: float) -> None:
        assert self._check_now is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._check_now.wait(), seconds)
        self._check_now.clear()

    async def _async_check(self) -> None:
        updater = self._updater
        assert updater is not None
        # A ready update stays installable when this check fails or offers nothing newer.
        ready = self._ready_update()
        self._set(state=UpdateState.CHECKING, received=0, total=0)
        try:
            manifest = await asyncio.to_thread(updater.check)
            now = datetime.now(UTC)
            if manifest is None:
                self._manifest = self._artifact = None
                self._set(
                    state=UpdateState.UP_TO_DATE,
                    message=f"Version {self._status.installed} is the newest.",
                    available=None,
                    notes=None,
                    checked_at=now,
                )
                return
            if ready is not None and ready[0].version == manifest.version:
                self._set(checked_at=now)
                self._set_ready(*ready)
                return
            if self._failed_here(manifest.version):
                self._set(
                    state=UpdateState.FAILED,
                    message=f"Version {manifest.version} failed to start here before and "
                    "is not installed again; a newer release will be.",
                    available=manifest.version,
                    checked_at=now,
                )
                return
            self._set(
                state=UpdateState.AVAILABLE,
                message=None,
                available=manifest.version,
                notes=manifest.notes,
                checked_at=now,
            )
            self._set(state=UpdateState.DOWNLOADING, total=updater.build_for(manifest).size)
            artifact = await asyncio.to_thread(updater.download, manifest, self._progress)
            await asyncio.to_thread(updater.forget_downloads, artifact)
        except UpdateError as exc:
            logger.warning("Update check failed: %s", exc)
            self._check_failed(str(exc), ready)
            return
        except Exception:
            logger.exception("Update check failed")
            self._check_failed("The update check failed (see the log).", ready)
            return
        self._set_ready(manifest, artifact)

    def _ready_update(self) -> tuple[Manifest, Path] | None:
        manifest, artifact = self._manifest, self._artifact
        if self._status.state is UpdateState.READY and manifest and artifact:
            return manifest, artifact
        return None

    def _set_ready(self, manifest: Manifest, artifact: Path, note: str = "") -> None:
        self._manifest, self._artifact = manifest, artifact
        self._set(
            state=UpdateState.READY,
            available=manifest.version,
            notes=manifest.notes,
            message=f"Version {manifest.version} is downloaded and verified; "
            f"Install now restarts the app in it.{note}",
        )

    def _check_failed(self, message: str, ready: tuple[Manifest, Path] | None) -> None:
        if ready is not None and ready[1].is_file():
            self._set_ready(*ready, note=f" (The last check failed: {message})")
            return
        self._manifest = self._artifact = None
        self._set(state=UpdateState.FAILED, message=message)

    def _failed_here(self, version: str) -> bool:
        if self._layout is None or not self._layout.failed_dir.is_dir():
            return False
        return any(p.name.startswith(f"{version}-") for p in self._layout.failed_dir.iterdir())

    def _progress(self, received: int, total: int) -> None:
        # Called on the download's thread; the bus is thread-safe.
        if self._stopping:
            raise UpdateError("The download was abandoned: the app is stopping.")
        now = time.monotonic()
        if received < total and now - self._last_progress < _PROGRESS_EVERY_S:
            return
        self._last_progress = now
        self._set(received=received, total=total)

    # -- applying ----------------------------------------------------------------------

    def _on_run_changed(self, event: Event) -> None:
        loop, changed = self._loop, self._runs_changed
        if loop is not None and changed is not None and self._apply_wanted:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(changed.set)

    async def _async_try_apply(self) -> None:
        # One apply at a time: "Install now" and the deferred wait can both get
        # here, and each would pass the run count around the pause's await.
        if self._applying.locked():
            return
        async with self._applying:
            if self._status.state not in (UpdateState.READY, UpdateState.DEFERRED):
                return  # applied, failed or handed over meanwhile
            await self._async_try_apply_once()

    async def _async_try_apply_once(self) -> None:
        active = self._runs.active()
        if active:
            self._defer(active)
            return
        # Held paused while the app hands over: a run queued now would be cut short.
        was_paused = self._runs.paused()
        if not was_paused:
            await self._runs.pause()
        active = self._runs.active()
        if active:
            if not was_paused:
                await self._runs.resume()
            self._defer(active)
            return
        try:
            await self._async_hand_over()
        except Exception as exc:
            if isinstance(exc, UpdateError):
                message = str(exc)
                logger.warning("The update was not installed: %s", message)
            else:
                logger.exception("The update was not installed")
                message = (
                    f"The update could not be installed ({type(exc).__name__}: {exc}); "
                    "the installed app is unchanged. Details are in the log."
                )
            self._apply_wanted = False
            if not was_paused:
                await self._runs.resume()
            self._set(state=UpdateState.FAILED, message=message, runs_active=0)

    def _defer(self, active: int) -> None:
        runs = "run is" if active == 1 else "runs are"
        self._set(
            state=UpdateState.DEFERRED,
            runs_active=active,
            message=f"Waiting: {active} {runs} active; the update installs when they end.",
        )
        if not any(t.get_name() == "update-deferred" and not t.done() for t in self._tasks):
            self._tasks.append(asyncio.create_task(self._async_wait_runs(), name="update-deferred"))

    async def _async_wait_runs(self) -> None:
        changed = self._runs_changed
        assert changed is not None
        while self._apply_wanted and self._status.state is UpdateState.DEFERRED:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), _DEFERRED_POLL_S)
            changed.clear()
            active = self._runs.active()
            if active == 0:
                await self._async_try_apply()
            elif active != self._status.runs_active:
                self._defer(active)

    async def _async_hand_over(self) -> None:
        manifest, artifact, updater = self._manifest, self._artifact, self._updater
        if manifest is None or artifact is None or updater is None:
            raise UpdateError("No update is ready to install.")
        if self._layout is None or self._handover is None:
            raise UpdateError(
                "This copy of the app cannot install updates itself (it is not in the "
                "side-by-side install layout)."
            )
        self._set(
            state=UpdateState.APPLYING,
            runs_active=0,
            message=f"Installing version {manifest.version}; the app restarts when it is ready.",
        )
        await asyncio.to_thread(_check_install_is_private, self._layout.root)
        await asyncio.to_thread(updater.prepare, manifest, artifact)
        handover, layout = self._handover, self._layout
        # What current names is what a rollback restores (the running copy may differ).
        previous = await asyncio.to_thread(layout.installed_version) or self._status.installed
        plan = HandoverPlan(
            install_root=str(layout.root),
            version=manifest.version,
            previous=previous,
            wait_pid=handover.pid,
            wait_created=await asyncio.to_thread(process_created, handover.pid),
            args=handover.app_args,
            start_timeout_s=self._timing.start_timeout_s,
            quit_timeout_s=self._timing.quit_timeout_s,
        )
        try:
            self.handover_process = await asyncio.to_thread(
                launch_handover, plan, state_dir_of(layout.root), handover.program, handover.env
            )
        except OSError as exc:
            raise UpdateError(f"The update could not be handed over: {exc}.") from None
        # Only now may the app quit: an app that quits earlier ends this coroutine
        # (and the unpacking) before the handover runs, and the update is lost.
        self._set(
            state=UpdateState.HANDING_OVER,
            message=f"Restarting in version {manifest.version}.",
        )
        logger.info("Handing over to version %s; quitting", manifest.version)
        handover.quit()


def _check_install_is_private(root: Path) -> None:
    """InstallError unless only this user can change the install and its handover state."""
    check_private(root, "The install folder")
    make_state_dir(state_dir_of(root))
