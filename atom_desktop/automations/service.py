"""The automation service: stored automations, their triggers, their runs.

The store is the source of truth. At start every enabled automation gets an
APScheduler job (built from its stored spec, nothing pickled) and its file
watches; every scheduled time since ``checked_at`` that passed while the
agent was stopped is run or recorded according to the missed-run policy.
APScheduler only wakes us: its own misfire handling is switched off
(``misfire_grace_time=None``) so that it never drops a fire silently, and
each wake-up accounts for every fire time since the last one
(:mod:`~atom_desktop.automations.fire_plan`), which is how a sleep or a
SIGSTOP shows up as recorded missed times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from pydantic import ValidationError

from atom_desktop.automations.approvals import ApprovalDesk
from atom_desktop.automations.errors import AutomationError, RunNotInProgressError
from atom_desktop.automations.file_watch import FileBatch, FileWatcher, check_globs
from atom_desktop.automations.fire_plan import MAX_COUNTED, plan_fires
from atom_desktop.automations.model import AutomationSpec, spec_json
from atom_desktop.automations.run_executor import RunExecutor
from atom_desktop.automations.steps import Credentials, RunContext, StepRunner
from atom_desktop.automations.triggers import (
    AnyOf,
    FileTrigger,
    IntervalSchedule,
    TriggerError,
    build_trigger,
)
from atom_desktop.core.events import (
    AutomationChanged,
    AutomationProblem,
    AutomationPulled,
    AutomationRunChanged,
    Event,
    EventBus,
    RunnerPaused,
)
from atom_desktop.core.redaction import MASK
from atom_desktop.core.statuses import AutomationRunStatus
from atom_desktop.core.tally import Tally
from atom_desktop.diagnostics.alerts import Alerts
from atom_desktop.runner.service import RunnerService
from atom_desktop.store.automation_runs import ApprovalRecord, AutomationRunRecord
from atom_desktop.store.automations import AutomationRecord, MissedTime
from atom_desktop.store.errors import NotFoundError
from atom_desktop.store.service import StoreService

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

MAX_PAYLOAD = 64 * 1024
MAX_TRIGGERS = 16  # AutomationSpec.triggers' max_length
ARM_SLICE = 50  # automations armed between two yields to the loop at start
PRUNE_EVERY_S = 3600.0
#: How long the stop waits for the scheduler's checks in progress.
ACCOUNTING_WAIT_S = 5.0


@dataclass(frozen=True)
class AutomationSettings:
    """What the service needs from the settings."""

    debounce_s: float = 2.0
    history_days: float = 14.0
    history_max_runs: int = 10_000
    scratch_dir: Path = Path()


@dataclass(frozen=True)
class AutomationState:
    """An automation as the API and the window show it."""

    record: AutomationRecord
    spec: AutomationSpec
    next_fire_at: datetime | None
    last_run: AutomationRunRecord | None
    active_runs: int


class AutomationService:
    """Owns the scheduler, the file watcher and every automation run."""

    name = "automations"

    def __init__(
        self,
        settings: AutomationSettings,
        store: StoreService,
        runner: RunnerService,
        bus: EventBus,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        alerts: Alerts,
        credentials: Credentials | None = None,
    ) -> None:
        """``alerts``: where failed runs are told; ``credentials``: what an http step's
        ``auth`` integration adds to its request."""
        self._settings = settings
        self._store = store
        self._runner = runner
        self._bus = bus
        self._clock = clock
        self.approvals = ApprovalDesk(lambda: store.automation_runs, bus)
        self._http: httpx.AsyncClient | None = None
        #: Runs single steps (the assistant's plans run theirs here too).
        self.steps = StepRunner(
            runner,
            runs=lambda: store.runs,
            tasks=lambda: store.tasks,
            bus=bus,
            http=self._client,
            approvals=self.approvals,
            credentials=credentials,
        )
        self._executor = RunExecutor(
            self.steps,
            lambda: store.automation_runs,
            bus,
            settings.scratch_dir,
            alerts,
        )
        self._scheduler: AsyncIOScheduler | None = None
        self._watcher: FileWatcher | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._specs: dict[str, tuple[AutomationRecord, AutomationSpec]] = {}
        self._triggers: dict[str, BaseTrigger] = {}
        self._checked: dict[str, datetime] = {}
        self._active: dict[str, int] = defaultdict(int)
        self._queues: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # One change at a time per automation: store write and (re)arming together.
        self._changing: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Runs in progress: run id -> (automation id, task).
        self._tasks: dict[str, tuple[str, asyncio.Task[str]]] = {}
        # The scheduler's checks in progress (see _account).
        self._accounting: set[asyncio.Task[Any]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        # Automations sync wrote here, being re-armed (see _async_apply_pulled).
        self._pulls: set[asyncio.Task[None]] = set()
        self._accepting = False
        self._armed = asyncio.Event()
        self._arming: asyncio.Task[None] | None = None
        #: Fires since the start, by trigger kind (the metrics read these).
        self.fires: dict[str, int] = {}
        #: How late each scheduled fire was handled, in seconds.
        self.fire_lateness = Tally()

    # -- service ------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Rebuild every job from the store and catch up on what was missed."""
        self._loop = asyncio.get_running_loop()
        repo = self._store.automation_runs
        interrupted = await asyncio.to_thread(repo.mark_interrupted)
        expired = await asyncio.to_thread(repo.expire_pending)
        if interrupted or expired:
            logger.warning(
                "%d automation run(s) were interrupted by the last stop; %d approval(s) expired",
                interrupted,
                expired,
            )
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        # Paused until every job is in: one wake-up instead of one per job added.
        self._scheduler.start(paused=True)
        self._watcher = FileWatcher(
            self._on_files_threadsafe,
            default_debounce_s=self._settings.debounce_s,
            on_problem=self._on_problem_threadsafe,
        )
        self._watcher.start()
        self._unsubscribe = [
            self._bus.subscribe(self._on_runner_paused, RunnerPaused.kind),
            self._bus.subscribe(self._on_pulled_threadsafe, AutomationPulled.kind),
        ]
        self._accepting = True
        self._armed = asyncio.Event()
        # Arming goes on after the agent reports running, so stored automations
        # do not hold up the window or the API; what falls due meanwhile is
        # caught up from ``checked_at`` like any other missed time.
        self._arming = asyncio.create_task(self._async_arm_all(), name="automations-arm")

    async def _async_arm_all(self) -> None:
        started = time.perf_counter()
        scheduler = self._scheduler
        assert scheduler is not None
        try:
            records = await asyncio.to_thread(self._store.automations.all)
            for index, record in enumerate(records):
                self._arm_stored(record)
                if index % ARM_SLICE == ARM_SLICE - 1:
                    await asyncio.sleep(0)  # let requests and runs through
            # Setting up watches walks folders: one trip off the loop for all of them.
            await asyncio.to_thread(self._watch_files, list(self._specs.values()))
            # What fell due while the agent was stopped.
            for automation_id in list(self._triggers):
                await self._account(automation_id, reason="agent_stopped")
            scheduler.add_job(
                self._prune,
                "interval",
                seconds=PRUNE_EVERY_S,
                id="prune",
                next_run_time=self._clock(),
            )
            logger.info(
                "%d automation(s) armed in %.0f ms",
                len(records),
                (time.perf_counter() - started) * 1000,
            )
        except Exception:
            # The agent runs on without them; requests must not wait forever.
            logger.exception("Arming the stored automations failed")
        finally:
            scheduler.resume()
            self._armed.set()

    def _arm_stored(self, record: AutomationRecord) -> None:
        """Arm one stored automation; one that no longer validates is reported, not fatal."""
        try:
            spec = stored_spec(record)
            self._specs[record.id] = (record, spec)
            self._arm_schedule(record, spec)
        except (AutomationError, TriggerError) as exc:
            message = f"It was not armed: {exc.message}"
            logger.error("Automation %r: %s", record.name, message)
            self._bus.publish(AutomationProblem(automation_id=record.id, message=message))

    async def async_wait_armed(self) -> None:
        """Wait until every stored automation's triggers are armed (just after start)."""
        await self._armed.wait()

    async def async_stop(self) -> None:
        """Stop triggering, cancel the runs in progress (recorded), release threads."""
        self._accepting = False
        if self._arming is not None:
            self._arming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._arming
            self._arming = None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        pulls = list(self._pulls)
        for pull in pulls:
            pull.cancel()
        if pulls:
            await asyncio.gather(*pulls, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
            self._scheduler = None
        if self._accounting:
            # Short: a check point's writes, and runs that are refused now.
            await asyncio.wait(set(self._accounting), timeout=ACCOUNTING_WAIT_S)
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
            self._watcher = None
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._specs.clear()
        self._triggers.clear()

    def _client(self) -> httpx.AsyncClient:
        """The HTTP client of http steps, made (and httpx loaded) by the first one."""
        if not self._accepting:
            raise AutomationError("The agent is stopping and makes no requests.")
        if self._http is None:
            import httpx  # noqa: PLC0415 - most agents never run an http step

            self._http = httpx.AsyncClient(follow_redirects=True)
        return self._http

    # -- reading ------------------------------------------------------------------------

    async def async_list(self) -> list[AutomationState]:
        """Every automation with its next fire time and last run."""
        await self._armed.wait()
        latest = await asyncio.to_thread(self._store.automation_runs.latest)
        return [
            self._state(record, spec, latest.get(record.id))
            for record, spec in self._specs.values()
        ]

    async def async_get(self, automation_id: str) -> AutomationState:
        """One automation (NotFoundError when unknown)."""
        await self._armed.wait()
        record = await asyncio.to_thread(self._store.automations.get, automation_id)
        runs = await asyncio.to_thread(self._store.automation_runs.page, automation_id, limit=1)
        return self._state(record, stored_spec(record), runs[0] if runs else None)

    def _state(
        self, record: AutomationRecord, spec: AutomationSpec, last: AutomationRunRecord | None
    ) -> AutomationState:
        job = self._scheduler.get_job(record.id) if self._scheduler is not None else None
        next_fire = job.next_run_time if job is not None else None
        return AutomationState(record, spec, next_fire, last, self._active.get(record.id, 0))

    async def async_runs(
        self, automation_id: str, *, limit: int = 50, before: str | None = None
    ) -> list[AutomationRunRecord]:
        """An automation's runs, newest first."""
        # Catch-up runs for the stop before this start begin while arming.
        await self._armed.wait()
        await asyncio.to_thread(self._store.automations.get, automation_id)  # 404 if unknown
        return await asyncio.to_thread(
            self._store.automation_runs.page, automation_id, limit=limit, before=before
        )

    async def async_run(self, run_id: str) -> AutomationRunRecord:
        """One automation run."""
        return await asyncio.to_thread(self._store.automation_runs.get, run_id)

    async def async_missed(self, automation_id: str, limit: int = 100) -> list[MissedTime]:
        """An automation's missed fire times, newest first."""
        # Those of the stop before this start are recorded while arming.
        await self._armed.wait()
        await asyncio.to_thread(self._store.automations.get, automation_id)
        return await asyncio.to_thread(self._store.automations.missed, automation_id, limit=limit)

    async def async_approvals(self, status: str | None = "pending") -> list[ApprovalRecord]:
        """Approvals, newest first."""
        return await asyncio.to_thread(self._store.automation_runs.approvals, status=status)

    async def async_wait_run(self, run_id: str) -> AutomationRunRecord:
        """Wait until a run has ended; its record."""
        entry = self._tasks.get(run_id)
        if entry is not None:
            await asyncio.shield(entry[1])
        return await self.async_run(run_id)

    # -- changing -----------------------------------------------------------------------

    async def async_create(self, spec: AutomationSpec) -> AutomationState:
        """Store a new automation and arm its triggers."""
        await self._armed.wait()
        check_spec(spec)
        record = await asyncio.to_thread(self._store.automations.create, spec_json(spec))
        await self._async_install(record, spec)
        self._bus.publish(AutomationChanged(automation_id=record.id, op="created"))
        return self._state(record, spec, None)

    async def async_replace(self, automation_id: str, spec: AutomationSpec) -> AutomationState:
        """Replace an automation's spec; its schedule starts afresh from now."""
        await self._armed.wait()
        check_spec(spec)
        async with self._changing[automation_id]:
            record = await asyncio.to_thread(
                self._store.automations.replace, automation_id, spec_json(spec)
            )
            await self._async_install(record, spec)
        self._bus.publish(AutomationChanged(automation_id=record.id, op="updated"))
        return await self.async_get(automation_id)

    async def async_set_enabled(self, automation_id: str, *, enabled: bool) -> AutomationState:
        """Enable (counting the schedule from now) or disable an automation."""
        await self._armed.wait()
        stored_spec(await asyncio.to_thread(self._store.automations.get, automation_id))
        async with self._changing[automation_id]:
            record = await asyncio.to_thread(
                self._store.automations.set_enabled, automation_id, enabled=enabled
            )
            await self._async_install(record, stored_spec(record))
        self._bus.publish(
            AutomationChanged(automation_id=record.id, op="enabled" if enabled else "disabled")
        )
        return await self.async_get(automation_id)

    async def async_delete(self, automation_id: str) -> None:
        """Delete an automation and its history; runs in progress are cancelled."""
        await self._armed.wait()
        await asyncio.to_thread(self._store.automations.get, automation_id)
        async with self._changing[automation_id]:
            await self._async_forget(automation_id)
            await asyncio.to_thread(self._store.automations.delete, automation_id)
        self._changing.pop(automation_id, None)
        self._bus.publish(AutomationChanged(automation_id=automation_id, op="deleted"))

    async def async_trigger(
        self, automation_id: str, *, kind: str, payload: Any = None
    ) -> AutomationRunRecord:
        """Run an automation now (manual, tray, CLI or API), enabled or not."""
        await self._armed.wait()
        if automation_id not in self._specs:
            await asyncio.to_thread(self._store.automations.get, automation_id)  # 404
        if payload is not None and len(json.dumps(payload)) > MAX_PAYLOAD:
            raise AutomationError(
                f"The payload is larger than {MAX_PAYLOAD // 1024} KiB; pass a file path instead."
            )
        trigger = {"kind": kind, "time": self._clock().isoformat(), "payload": payload}
        return await self._start_run(automation_id, trigger)

    async def async_cancel_run(self, run_id: str) -> AutomationRunRecord:
        """Cancel a run in progress (its command is cancelled too)."""
        entry = self._tasks.get(run_id)
        if entry is None:
            record = await self.async_run(run_id)
            raise RunNotInProgressError(
                f"The automation run {run_id} is not in progress ({record.status})."
            )
        task = entry[1]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return await self.async_run(run_id)

    # -- changes made on another device -------------------------------------------------

    def _on_pulled_threadsafe(self, event: Event) -> None:
        """From sync's worker thread: re-arm the automation on the loop."""
        assert isinstance(event.payload, AutomationPulled)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(
                    self._on_pulled, event.payload.automation_id, event.payload.op
                )

    def _on_pulled(self, automation_id: str, op: str) -> None:
        if not self._accepting:
            return
        task = asyncio.create_task(
            self._async_apply_pulled(automation_id, op), name=f"automation-pulled-{automation_id}"
        )
        self._pulls.add(task)
        task.add_done_callback(self._pull_done)

    def _pull_done(self, task: asyncio.Task[None]) -> None:
        self._pulls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "An automation changed on another device could not be armed here: %s",
                task.exception(),
            )

    async def _async_apply_pulled(self, automation_id: str, op: str) -> None:
        """Arm, disarm or forget an automation as sync left it in the store.

        Sync has already written the row (and no outbox entry: a pulled
        change is not pushed back); only the scheduler and the watches
        follow it here, and nothing is written. The store is read afresh,
        so pulls of one automation in quick succession end with its latest
        version armed whatever order they are handled in.
        """
        await self._armed.wait()
        async with self._changing[automation_id]:
            if not self._accepting:
                return
            try:
                record = await asyncio.to_thread(self._store.automations.get, automation_id)
            except NotFoundError:
                record = None
            if record is None:
                await self._async_forget(automation_id)
                op = "deleted"
            else:
                known = automation_id in self._specs
                await self._async_install_pulled(record)
                op = "updated" if known else "created"
        if record is None:
            self._changing.pop(automation_id, None)
        self._bus.publish(AutomationChanged(automation_id=automation_id, op=op))

    async def _async_install_pulled(self, record: AutomationRecord) -> None:
        try:
            spec = stored_spec(record)
            check_spec(spec)
        except (AutomationError, TriggerError) as exc:
            # A version this device cannot arm (made by a newer one, say): it stays
            # stored as it came, unarmed, and the reason is told.
            await self._async_disarm(record.id)
            self._specs.pop(record.id, None)
            message = f"Its version from another device was not armed: {exc.message}"
            logger.error("Automation %r: %s", record.name, message)
            self._bus.publish(AutomationProblem(automation_id=record.id, message=message))
            return
        await self._async_install(record, spec)
        if MASK in json.dumps(record.spec):
            # Secrets never leave the device that has them (sync/secrets.py);
            # the runs here use the mask as it is until it is replaced here.
            logger.warning(
                "Automation %r came from another device with values masked as %s; "
                "set them on this device for its steps to have them",
                record.name,
                MASK,
            )

    async def _async_forget(self, automation_id: str) -> None:
        """Disarm a deleted automation and cancel its runs in progress (recorded)."""
        await self._async_disarm(automation_id)
        self._specs.pop(automation_id, None)
        ours = [task for owner, task in self._tasks.values() if owner == automation_id]
        for task in ours:
            task.cancel()
        if ours:
            await asyncio.gather(*ours, return_exceptions=True)

    # -- arming triggers ------------------------------------------------------------------

    async def _async_install(self, record: AutomationRecord, spec: AutomationSpec) -> None:
        self._specs[record.id] = (record, spec)
        await self._async_disarm(record.id)
        self._arm_schedule(record, spec)
        await asyncio.to_thread(self._watch_files, [(record, spec)])

    def _arm_schedule(self, record: AutomationRecord, spec: AutomationSpec) -> None:
        if not record.enabled or self._scheduler is None:
            return
        schedules = [
            build_trigger(_anchored(t, record.anchor_at))
            for t in spec.triggers
            if not isinstance(t, FileTrigger)
        ]
        if not schedules:
            return
        trigger = AnyOf(schedules)
        self._triggers[record.id] = trigger
        self._checked[record.id] = record.checked_at or self._clock()
        self._scheduler.add_job(
            self._account,
            trigger=trigger,
            args=[record.id],
            kwargs={"reason": "late"},
            id=record.id,
            replace_existing=True,
            # Our own grace (per automation) decides; APScheduler must not
            # drop a late wake-up, or the missed times would go unrecorded.
            misfire_grace_time=None,
            coalesce=True,
            # A wake-up that overlaps a slow one (its writes queued behind a
            # flood's) is safe: each accounts from where the last one left off.
            max_instances=8,
        )

    def _watch_files(self, entries: list[tuple[AutomationRecord, AutomationSpec]]) -> None:
        """Start the file watches of enabled automations (blocking: on a worker thread)."""
        watcher = self._watcher
        if watcher is None:
            return
        for record, spec in entries:
            if not record.enabled:
                continue
            for index, trigger in enumerate(spec.triggers):
                if isinstance(trigger, FileTrigger):
                    watcher.watch(f"{record.id}:{index}", trigger)

    async def _async_disarm(self, automation_id: str) -> None:
        self._triggers.pop(automation_id, None)
        self._checked.pop(automation_id, None)
        if self._scheduler is not None:
            with contextlib.suppress(Exception):  # JobLookupError: it had no schedule
                self._scheduler.remove_job(automation_id)
        watcher = self._watcher
        if watcher is not None:
            await asyncio.to_thread(_unwatch_all, watcher, automation_id)

    # -- firing -------------------------------------------------------------------------

    async def _account(self, automation_id: str, *, reason: str) -> None:
        """Run or record every fire time since the last check."""
        # Kept until it ends, so that the stop can wait for it: the scheduler
        # leaves its jobs running, and one cancelled by the loop's end leaves
        # its fire times half recorded (and an error in the log).
        task = asyncio.current_task()
        if task is not None:
            self._accounting.add(task)
        try:
            await self._account_now(automation_id, reason=reason)
        finally:
            if task is not None:
                self._accounting.discard(task)

    async def _account_now(self, automation_id: str, *, reason: str) -> None:
        trigger = self._triggers.get(automation_id)
        entry = self._specs.get(automation_id)
        if trigger is None or entry is None or not self._accepting:
            return
        spec = entry[1]
        now = self._clock()
        plan = plan_fires(
            trigger,
            checked_at=self._checked[automation_id],
            now=now,
            grace_s=spec.misfire_grace_s,
            policy=spec.missed,
        )
        self._checked[automation_id] = now
        if not plan.run_for and not plan.missed:
            # Nothing was due: the stored check point may stay behind (the
            # span since then holds no fire time), which saves a write per
            # automation at every start.
            return
        repo = self._store.automations
        if self._runner.paused:
            skipped = sorted({*plan.missed, *plan.run_for})
            await asyncio.to_thread(
                repo.record_missed,
                automation_id,
                skipped,
                reason="paused",
                action="skipped",
                checked_at=now,
            )
            return
        # Runs are stored before the fire times are marked as handled: a crash
        # in between repeats a run rather than losing one.
        catching_up = len(plan.run_for) > 1
        for fire_time in plan.run_for:
            trigger_data = {
                "kind": "schedule",
                "time": fire_time.isoformat(),
                "late": fire_time in plan.missed,
            }
            await self._start_run(automation_id, trigger_data, queue=catching_up)
        await asyncio.to_thread(
            repo.record_missed,
            automation_id,
            plan.missed,
            reason=reason,
            action=plan.missed_action,
            checked_at=now,
        )
        if plan.missed:
            logger.warning(
                "Automation %r missed %d scheduled time(s) (%s); %s",
                spec.name,
                len(plan.missed) + plan.more_missed,
                reason,
                plan.missed_action,
            )
        if plan.more_missed:
            self._bus.publish(
                AutomationProblem(
                    automation_id=automation_id,
                    message=f"{plan.more_missed}{'+' if plan.more_missed >= MAX_COUNTED else ''} "
                    "more missed time(s) were counted, not listed.",
                )
            )

    def _on_files_threadsafe(self, batch: FileBatch) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._on_files, batch)

    def _on_files(self, batch: FileBatch) -> None:
        automation_id = batch.key.rsplit(":", 1)[0]
        if automation_id not in self._specs or not self._accepting:
            return
        # Stored and shown as text; a name that is not UTF-8 keeps its exact
        # bytes only in what the shell step gets ("$@" and the paths file).
        trigger = {
            "kind": "file",
            "time": self._clock().isoformat(),
            "paths": [_printable(p) for p in batch.paths],
            "changes": [{"path": _printable(c.path), "kind": c.kind} for c in batch.changes],
            "rescanned": batch.rescanned,
        }
        task = asyncio.ensure_future(
            self._start_run(automation_id, trigger, raw_paths=list(batch.paths))
        )
        task.add_done_callback(_log_failure)

    def _on_problem_threadsafe(self, key: str, message: str) -> None:
        automation_id = key.rsplit(":", 1)[0]
        logger.warning("File trigger of automation %s: %s", automation_id, message)
        self._bus.publish(AutomationProblem(automation_id=automation_id, message=message))

    def _on_runner_paused(self, event: Event) -> None:
        assert isinstance(event.payload, RunnerPaused)
        logger.info(
            "Automations %s",
            "record what they skip while paused" if event.payload.paused else "resume",
        )

    async def _start_run(
        self,
        automation_id: str,
        trigger: dict[str, Any],
        *,
        raw_paths: list[str] | None = None,
        queue: bool = False,
    ) -> AutomationRunRecord:
        """Store a run and start it (or record it as skipped).

        ``queue`` makes it wait for the runs before it whatever the overlap
        policy (catching up on several missed times under ``missed: all``).
        """
        record, spec = self._specs.get(automation_id) or await self._load(automation_id)
        repo = self._store.automation_runs
        kind = str(trigger["kind"])
        if not self._accepting:
            raise AutomationError("The agent is stopping and starts no automation runs.")
        self._count_fire(kind, trigger)
        if kind == "file" and self._runner.paused:
            return await self._skipped(automation_id, kind, trigger, "The agent was paused.")
        if spec.overlap == "skip" and not queue and self._active[automation_id]:
            return await self._skipped(
                automation_id, kind, trigger, "The previous run was still going (overlap: skip)."
            )
        self._active[automation_id] += 1  # counted before any await: a second fire sees it
        try:
            run = await asyncio.to_thread(
                repo.create, automation_id, trigger_kind=kind, trigger=trigger
            )
        except BaseException:
            self._active[automation_id] -= 1
            raise
        if not self._accepting or automation_id not in self._specs:
            # Stopped or deleted while the row was written: record it, start nothing.
            self._active[automation_id] -= 1
            await asyncio.to_thread(
                repo.update,
                run.id,
                status="cancelled",
                ended_at=self._clock(),
                error="The agent stopped (or the automation was deleted) before the run began.",
            )
            return await asyncio.to_thread(repo.get, run.id)
        self._bus.publish(
            AutomationRunChanged(
                automation_id=automation_id, run_id=run.id, status=AutomationRunStatus.QUEUED
            )
        )
        ctx = RunContext(automation_id, record.name, run.id, spec, trigger, raw_paths=raw_paths)
        task = asyncio.create_task(
            self._execute(ctx, queue=queue or spec.overlap == "queue"),
            name=f"automation-run-{run.id}",
        )
        self._tasks[run.id] = (automation_id, task)
        return run

    def _count_fire(self, kind: str, trigger: dict[str, Any]) -> None:
        """Count a fire, and how late a scheduled one is (its time is the one it was due)."""
        self.fires[kind] = self.fires.get(kind, 0) + 1
        if kind == "schedule":
            late = (self._clock() - datetime.fromisoformat(str(trigger["time"]))).total_seconds()
            self.fire_lateness.observe(max(0.0, late))

    async def _execute(self, ctx: RunContext, *, queue: bool) -> str:
        try:
            if queue:
                async with self._queues[ctx.automation_id]:
                    return await self._executor.async_execute(ctx)
            return await self._executor.async_execute(ctx)
        except asyncio.CancelledError:
            # Cancelled before the executor recorded an end (waiting in the queue).
            with contextlib.suppress(Exception):
                run = await asyncio.to_thread(self._store.automation_runs.get, ctx.run_id)
                if not run.ended:
                    await asyncio.to_thread(
                        self._store.automation_runs.update,
                        ctx.run_id,
                        status="cancelled",
                        ended_at=self._clock(),
                        error="The run was cancelled before it began.",
                    )
            raise
        finally:
            self._active[ctx.automation_id] -= 1
            self._tasks.pop(ctx.run_id, None)

    async def _skipped(
        self, automation_id: str, kind: str, trigger: dict[str, Any], why: str
    ) -> AutomationRunRecord:
        run = await asyncio.to_thread(
            self._store.automation_runs.create,
            automation_id,
            trigger_kind=kind,
            trigger=trigger,
            status=AutomationRunStatus.SKIPPED,
            error=why,
        )
        self._bus.publish(
            AutomationRunChanged(
                automation_id=automation_id, run_id=run.id, status=AutomationRunStatus.SKIPPED
            )
        )
        return run

    async def _load(self, automation_id: str) -> tuple[AutomationRecord, AutomationSpec]:
        record = await asyncio.to_thread(self._store.automations.get, automation_id)
        return record, stored_spec(record)

    async def _prune(self) -> None:
        cutoff = self._clock() - timedelta(days=self._settings.history_days)
        runs = await asyncio.to_thread(
            self._store.automation_runs.prune,
            older_than=cutoff,
            keep=self._settings.history_max_runs,
        )
        missed = await asyncio.to_thread(self._store.automations.prune_missed, cutoff)
        if runs or missed:
            logger.info(
                "History: removed %d old automation run(s), %d missed time(s)", runs, missed
            )


def stored_spec(record: AutomationRecord) -> AutomationSpec:
    """The spec of a stored automation, or an AutomationError saying it cannot be read."""
    try:
        return AutomationSpec.model_validate(record.spec)
    except ValidationError as exc:
        # Where and what only: the input could hold a header or variable with a secret.
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AutomationError(
            f"The automation {record.name!r} is stored in a form this version cannot read "
            f"({where}: {first['msg']}). Delete it and create it again."
        ) from None


def check_spec(spec: AutomationSpec) -> None:
    """Raise TriggerError naming ``triggers[i].field`` for a trigger that cannot work."""
    for index, trigger in enumerate(spec.triggers):
        try:
            if isinstance(trigger, FileTrigger):
                check_globs(trigger)
            else:
                build_trigger(trigger)
        except TriggerError as exc:
            raise TriggerError(f"triggers[{index}].{exc.field}", _bare(exc)) from None


def _bare(exc: TriggerError) -> str:
    prefix = f"{exc.field}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def _anchored(trigger: Any, anchor: datetime) -> Any:
    """An interval without a start counts from the automation's anchor (kept across restarts)."""
    if isinstance(trigger, IntervalSchedule) and trigger.start is None:
        return trigger.model_copy(update={"start": anchor + timedelta(seconds=trigger.seconds)})
    return trigger


def _printable(path: str) -> str:
    """``path`` as valid text (undecodable bytes of a file name become U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unwatch_all(watcher: FileWatcher, automation_id: str) -> None:
    for index in range(MAX_TRIGGERS):
        watcher.unwatch(f"{automation_id}:{index}")


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("A file trigger could not start its run: %s", task.exception())
