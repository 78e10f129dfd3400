"""The runner: starts runs (queued beyond a limit), pumps their output, ends them.

Everything here runs on the agent loop; blocking work (the store, process
scans, waiting out a kill) goes to threads. A run's life: ``queued`` ->
``running`` -> ``succeeded`` / ``failed`` / ``cancelled`` / ``timed_out``; a
crash leaves ``interrupted`` (set at the next start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from atom_desktop.core.events import EventBus, RunChanged, RunnerPaused
from atom_desktop.core.ids import IdFactory
from atom_desktop.core.output import Chunk
from atom_desktop.core.statuses import RunStatus
from atom_desktop.diagnostics.service_tasks import watch_service_task
from atom_desktop.platform import process_control
from atom_desktop.platform.containment import Container, choose_containment
from atom_desktop.platform.errors import PlatformNotSupportedError
from atom_desktop.platform.pipes import make_nonblocking, output_pipe
from atom_desktop.platform.terminal import open_pty, pty_environment
from atom_desktop.runner import process_tree
from atom_desktop.runner.environment import child_environment, user_shell
from atom_desktop.runner.errors import RunnerError, RunNotActiveError
from atom_desktop.runner.output import ENDED, OutputLog, Viewer, now
from atom_desktop.runner.pipes import Reader, output_reader
from atom_desktop.runner.policy import CommandPolicy
from atom_desktop.runner.request import RunRequest, RunSource
from atom_desktop.runner.supervision import SupervisorStatus, supervised, supervision_available
from atom_desktop.store.run_processes import RunProcessRepository
from atom_desktop.store.runs import RunRecord, RunRepository

logger = logging.getLogger(__name__)

SAVE_EVERY_S = 0.25
# Output read but not stored yet is held in memory. Past this much the runner
# stops reading (the child blocks on its full pipe) until the store catches
# up: a large cap and a flood faster than the disk then cost no memory and
# lose nothing. At the default cap it is never reached.
UNSAVED_LIMIT = 32 * 1024 * 1024
# Once a run's output is over its cap the tail churns: writing it every
# SAVE_EVERY_S would store (and then delete) everything a flood prints.
TAIL_SAVE_EVERY_S = 2.0
# Chunks (up to 64 KiB each) per write transaction when saving output
# (RunRepository.save_output says why).
SAVE_PIECE = 4
WATCH_EVERY_S = 0.2
# After the last run ends the watcher keeps reaping its leftovers for a
# while, then sleeps until the next run: an idle agent polls nothing.
WATCH_LINGER_S = 10.0
WATCH_IDLE_S = 30.0
# Processes stored per run for the clean-up after a crash: a build forking
# thousands of short-lived compilers need not write each one.
REMEMBER_LIMIT = 10_000


@dataclass
class RunnerSettings:
    """Limits of the runner."""

    max_concurrent: int = 4
    output_cap: int = 16 * 1024 * 1024
    kill_grace_s: float = 3.0
    policy: CommandPolicy = field(default_factory=CommandPolicy)
    # None: read output the way this system's loop allows (see output_reader).
    # True reads it in threads as on Windows, for tests of that path on Linux.
    threaded_output: bool | None = None


@dataclass
class _Active:
    """A run that is queued or running."""

    record: RunRecord
    request: RunRequest
    log: OutputLog
    viewers: set[Viewer] = field(default_factory=set)
    proc: asyncio.subprocess.Process | None = None
    known: set[process_tree.Identity] = field(default_factory=set)
    seq: int = 0
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    last_output: float = field(default_factory=time.monotonic)
    ending: RunStatus | None = None  # why we are ending it: cancelled / timed_out
    task: asyncio.Task[None] | None = None
    peak_rss: int = 0
    cpu_s: float = 0.0
    pty: int | None = None  # the master side, in PTY mode
    # What holds the run's processes (Windows: its Job Object); set once it started.
    container: Container | None = None
    # Under a supervisor (Linux): what it reports, and its own identity,
    # which is never signalled or counted with the run's processes.
    status: SupervisorStatus | None = None
    supervisor: process_tree.Identity | None = None
    remembered: set[process_tree.Identity] = field(default_factory=set)  # stored, for a crash
    outputs: list[tuple[int, str]] = field(default_factory=list)  # (fd, stream) to read
    readers: list[Reader] = field(default_factory=list)
    waiting_for_store: bool = False  # reading paused until the store catches up
    save_now: asyncio.Event = field(default_factory=asyncio.Event)
    input_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    store_failing: bool = False  # the last save failed; the saver keeps trying
    # One save at a time; the periodic saver stops by flag, never mid-write.
    save_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tail_saved_at: float = field(default_factory=time.monotonic)
    stop_saving: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        """Output was just read (for the idle timeout)."""
        self.last_output = time.monotonic()


class RunnerService:
    """Starts, tracks, streams and ends runs."""

    name = "runner"

    def __init__(
        self,
        settings: RunnerSettings,
        runs: Callable[[], RunRepository],
        processes: Callable[[], RunProcessRepository],
        bus: EventBus,
        ids: IdFactory,
        *,
        secrets: Callable[[], Iterable[str]],
    ) -> None:
        self._settings = settings
        self._runs = runs
        self._processes = processes
        self._bus = bus
        self._ids = ids
        self._secrets = secrets
        self._active: dict[str, _Active] = {}
        self._running = 0  # runs holding one of the max_concurrent slots
        self._watcher: asyncio.Task[None] | None = None
        self._accepting = False
        # A child between fork and ``run.proc`` is not a known root yet; the
        # orphan reaper must not reap it (asyncio waits for it), so it stands
        # aside while a spawn is in progress or has begun since it looked.
        self._spawning = 0
        self._spawn_gen = 0
        # Paused: queued runs wait at this gate (running ones go on).
        self._paused = False
        self._gate: asyncio.Condition | None = None
        self._watch_wakeup: asyncio.Event | None = None
        self._supervise = supervision_available()
        # Whether the run's orphans become our children (Linux: a subreaper);
        # set at the start. Elsewhere ending a run looks for them everywhere.
        self._orphans_adopted = False
        # Sessions on POSIX, a Job Object per run on Windows.
        self._containment = choose_containment()
        #: Runs that reached each status since the start (the metrics read it).
        self.status_counts: dict[str, int] = {}
        #: Output bytes read from every run since the start, by stream.
        self.output_bytes: dict[str, int] = {"stdout": 0, "stderr": 0}

    # -- service -----------------------------------------------------------------

    async def async_start(self) -> None:
        """Adopt orphans from now on; end what a crash left running, mark it interrupted."""
        self._orphans_adopted = process_control.become_subreaper()
        if self._orphans_adopted:
            logger.debug("The agent adopts orphaned descendants of its runs (subreaper)")
        await asyncio.to_thread(self._end_left_behind)
        interrupted = await asyncio.to_thread(self._runs().mark_interrupted)
        if interrupted:
            logger.warning(
                "%d run(s) were left running by an earlier stop; marked interrupted", interrupted
            )
        self._gate = asyncio.Condition()
        self._watch_wakeup = asyncio.Event()
        self._watcher = asyncio.create_task(self._watch(), name="runner-watch")
        watch_service_task(self._watcher, "runner's process watch", self._bus)
        self._accepting = True

    def _end_left_behind(self) -> None:
        """End the processes that runs interrupted by a crash left running (blocking)."""
        repo = self._processes()
        remembered = repo.left_behind()
        if not remembered:
            return
        found = process_tree.left_by_runs(remembered)
        if found:
            logger.warning(
                "Ending %d process(es) that %d run(s) interrupted by an earlier stop left running",
                len(found),
                len(remembered),
            )
            process_tree.kill_blocking(found, None, self._settings.kill_grace_s)
        repo.forget_all(remembered)

    async def async_stop(self) -> None:
        """Cancel every run (recorded as cancelled) and wait for them to end."""
        self._accepting = False
        self._paused = False
        active = list(self._active.values())
        for run in active:
            # One may end by itself while another is being cancelled: it is
            # then no longer active, and its end is stored as it happened.
            with contextlib.suppress(RunNotActiveError):
                await self.async_cancel(run.record.id)
        tasks = [r.task for r in active if r.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        watcher, self._watcher = self._watcher, None
        # One that ended with an error was reported then (watch_service_task).
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await asyncio.to_thread(process_tree.reap_orphans, set())

    # -- starting ----------------------------------------------------------------

    async def async_submit(
        self, request: RunRequest, *, source: RunSource, requester: str | None
    ) -> RunRecord:
        """Queue a run; it starts as soon as a slot is free."""
        if not self._accepting:
            raise RunnerError("The agent is stopping and takes no new runs.")
        if request.args and source != "automation":
            # The policy reads the line, not its arguments: only an
            # automation's trigger data (changed paths) may come that way.
            raise RunnerError("'args' are for automation steps; put the arguments in 'argv'.")
        if source != "ui":
            # What a person typed in the window is theirs to run; everything
            # else passes the policy first.
            self._settings.policy.check(request)
        cwd = self._check_cwd(request.cwd)
        record = await asyncio.to_thread(
            self._runs().create,
            id=self._ids.new(),
            source=source,
            requester=requester,
            argv=request.argv,
            shell=request.shell,
            cwd=str(cwd),
            env_names=sorted(request.env),
            timeout_s=request.timeout_s,
            idle_timeout_s=request.idle_timeout_s,
        )
        run = _Active(record, request, OutputLog(self._settings.output_cap))
        self._active[record.id] = run
        run.task = asyncio.create_task(self._lifecycle(run), name=f"run-{record.id}")
        if self._watch_wakeup is not None:
            self._watch_wakeup.set()
        self._publish(record.id, RunStatus.QUEUED)
        return record

    @staticmethod
    def _check_cwd(cwd: str | None) -> Path:
        path = Path(cwd).expanduser() if cwd else Path.home()
        if not path.is_absolute():
            raise RunnerError(f"The working directory {cwd!r} must be an absolute path.")
        if not path.is_dir():
            raise RunnerError(f"The working directory {path} does not exist or is not a directory.")
        return path

    @property
    def paused(self) -> bool:
        """Whether queued runs are held back."""
        return self._paused

    async def async_pause(self) -> None:
        """Hold queued runs (new ones queue too); running runs go on."""
        await self._set_paused(paused=True)

    async def async_resume(self) -> None:
        """Let queued runs start again."""
        await self._set_paused(paused=False)

    async def _set_paused(self, *, paused: bool) -> None:
        if self._paused == paused:
            return
        self._paused = paused
        await self._wake_queue()
        self._bus.publish(RunnerPaused(paused=paused))

    async def _wake_queue(self) -> None:
        if self._gate is not None:
            async with self._gate:
                self._gate.notify_all()

    def _may_start(self) -> bool:
        return not self._paused and self._running < self._settings.max_concurrent

    async def _lifecycle(self, run: _Active) -> None:
        assert self._gate is not None
        has_slot = False
        try:
            # One gate for the pause, the concurrency limit and cancel: a
            # queued run starts only when the runner is not paused and a slot
            # is free, and a cancel ends it at once wherever it waits.
            async with self._gate:
                await self._gate.wait_for(lambda: run.ending is not None or self._may_start())
                if run.ending is None:
                    self._running += 1
                    has_slot = True
            if not has_slot:
                await self._finish(run, run.ending or RunStatus.CANCELLED, None, None)
                return
            await self._run(run)
        except Exception as exc:
            logger.exception("Run %s failed inside the runner", run.record.id)
            try:
                await self._finish(
                    run, RunStatus.FAILED, None, None, error=f"internal error: {exc}"
                )
            except Exception:
                logger.exception("Could not record the failure of run %s", run.record.id)
        finally:
            self._active.pop(run.record.id, None)
            for reader in run.readers:
                reader.close()  # after an internal error: no descriptor left open
            self._close_container(run)
            if has_slot:
                async with self._gate:
                    self._running -= 1
                    self._gate.notify_all()

    async def _spawn(self, run: _Active) -> asyncio.subprocess.Process | None:
        """Start the child; on failure record why and return None.

        On success ``run.outputs`` holds the descriptors to read its output
        from, with their stream names.
        """
        request = run.request
        # "$0" of a shell line is the program's name; ``args`` become "$1".. "$n".
        command = (
            request.argv
            if request.argv is not None
            else [user_shell(), "-c", request.shell or "", "atom-desktop", *request.args]
        )
        argv, status_read = command, None
        pass_fds: tuple[int, ...] = ()
        if self._supervise:
            status_read, status_write = os.pipe()
            argv = supervised(command, self._settings.kill_grace_s, status_write)
            pass_fds = (status_write,)
        env = child_environment(os.environ, request.env, self._secrets())
        # Not a secret: lets the runner recognise descendants that detach.
        env[process_tree.RUN_MARKER] = run.record.id
        stdin: int = asyncio.subprocess.PIPE
        if request.pty:
            try:
                run.pty, slave = open_pty()
            except PlatformNotSupportedError as exc:
                # No terminals here (Windows): the run fails before anything
                # starts, saying to run it without one.
                for fd in (*pass_fds, *(() if status_read is None else (status_read,))):
                    os.close(fd)
                await self._finish(run, RunStatus.FAILED, None, None, error=str(exc))
                return None
            stdin = stdout = stderr = slave
            ours = [(os.dup(run.pty), "stdout")]
            childs = [slave]
            env = pty_environment(env)
        else:
            out_read, stdout = output_pipe()
            err_read, stderr = output_pipe()
            ours = [(out_read, "stdout"), (err_read, "stderr")]
            childs = [stdout, stderr]
        self._spawning += 1
        self._spawn_gen += 1
        failure = None
        try:
            run.proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=run.record.cwd,
                env=env,
                close_fds=True,
                pass_fds=pass_fds,
                # POSIX: its own session and process group; Windows: suspended
                # until it is in its job.
                **self._containment.spawn_options(),
            )
        except OSError as exc:
            failure = f"could not start {argv[0]!r}: {exc.strerror}"
        finally:
            self._spawning -= 1
            for fd in (*childs, *pass_fds):
                os.close(fd)  # the child has its copies; EOF comes when they are closed
        if failure is None:
            failure = await self._started(run, status_read, command[0])
        elif status_read is not None:
            os.close(status_read)
        if failure is not None:
            for fd, _ in ours:
                os.close(fd)
            self._close_pty(run)
            await self._finish(run, RunStatus.FAILED, None, None, error=failure)
            return None
        run.outputs = ours
        return run.proc

    async def _started(self, run: _Active, status_read: int | None, program: str) -> str | None:
        """Hold the run just started (Windows: in its job, then let it run) and wait for its
        supervisor to start the command, if it has one; why it could not start, or None.
        """
        assert run.proc is not None
        try:
            run.container = self._containment.contain(run.proc.pid)
        except OSError as exc:
            # Started suspended and never let run: end it before it does anything.
            with contextlib.suppress(ProcessLookupError):
                run.proc.kill()
            await run.proc.wait()
            if status_read is not None:
                os.close(status_read)
            return f"could not start {program!r}: {exc}"
        if status_read is not None:
            return await self._supervised_start(run, status_read, program)
        return None

    async def _supervised_start(self, run: _Active, status_read: int, program: str) -> str | None:
        """Wait for the supervisor to start the command; why it could not, or None."""
        assert run.proc is not None
        run.supervisor = (run.proc.pid, _start_time(run.proc.pid))
        run.status = SupervisorStatus(status_read)
        await run.status.started.wait()
        if run.status.command_pid is not None:
            return None
        errno_ = run.status.start_errno
        await run.proc.wait()  # it exits as soon as it has reaped the failed child
        run.status.close()
        if errno_ is None:
            return f"could not start {program!r}: its supervisor ended first"
        return f"could not start {program!r}: {os.strerror(errno_)}"

    @staticmethod
    def _close_container(run: _Active) -> None:
        container, run.container = run.container, None
        if container is not None:
            container.close()  # Windows: whatever is left of the run ends

    @staticmethod
    def _close_pty(run: _Active) -> None:
        if run.pty is not None:
            os.close(run.pty)
            run.pty = None

    async def _run(self, run: _Active) -> None:
        request = run.request
        proc = await self._spawn(run)
        if proc is None:
            return
        if run.ending is not None:
            await self._kill(run)  # cancelled while it was being spawned
        root = self._command_pid(run)
        run.known.add((root, _start_time(root)))
        await asyncio.to_thread(self._record_start, run, now())
        self._publish(run.record.id, RunStatus.RUNNING)

        run.readers = [
            output_reader(
                fd,
                name,
                lambda stream, data: self._emit(run, stream, data),
                run.touch,
                threaded=self._settings.threaded_output,
            )
            for fd, name in run.outputs
        ]
        saver = asyncio.create_task(self._save_periodically(run))
        deadline = None if request.timeout_s is None else time.monotonic() + request.timeout_s
        returncode = await self._wait(run, proc, deadline)
        # The main process is gone; give the pipes a moment, then end what it left behind.
        if not await self._outputs_end(run, 1.0):
            await self._kill(run)
            await self._outputs_end(run, 5.0)
        for reader in run.readers:
            reader.close()
        self._close_pty(run)
        await self._kill(run, only_leftovers=True)
        self._close_container(run)
        if run.status is not None:
            await self._reap_supervisor(run, proc)
        run.stop_saving.set()
        run.save_now.set()
        await saver
        if run.ending is not None:
            status = run.ending
        else:
            status = RunStatus.SUCCEEDED if returncode == 0 else RunStatus.FAILED
        exit_code = returncode if returncode >= 0 else None
        sig = -returncode if returncode < 0 else None
        await self._finish(run, status, exit_code, sig)

    def _record_start(self, run: _Active, started: datetime) -> None:
        """Mark the run running and remember its first processes (blocking)."""
        self._runs().update(run.record.id, status=RunStatus.RUNNING, started_at=started)
        self._remember(run)

    def _remember(self, run: _Active) -> None:
        """Store the run's processes not stored yet, so a start after a crash finds them."""
        new = set(run.known)
        if run.supervisor is not None:
            new.add(run.supervisor)
        new -= run.remembered
        if not new or len(run.remembered) >= REMEMBER_LIMIT:
            return
        try:
            self._processes().remember(run.record.id, new)
        except Exception as exc:
            # Only the clean-up after a crash depends on it; the run goes on.
            logger.debug("Could not store the processes of run %s (%s)", run.record.id, exc)
            return
        run.remembered |= new
        if logger.isEnabledFor(logging.DEBUG):
            for pid, _ in sorted(new):
                logger.debug("Remembered process %d of run %s", pid, run.record.id)

    @staticmethod
    async def _outputs_end(run: _Active, reading_s: float) -> bool:
        """Whether every output reaches end of file within ``reading_s`` of reading.

        Time the readers spend paused for the store does not count: the
        pipes still hold output then, and closing them would lose it.
        """
        finished = [reader.finished for reader in run.readers]
        deadline = time.monotonic() + reading_s
        while True:
            _, pending = await asyncio.wait(finished, timeout=0.1)
            if not pending:
                return True
            if run.waiting_for_store and not run.store_failing:
                deadline = time.monotonic() + reading_s
            elif time.monotonic() >= deadline:
                return False

    async def _wait(
        self, run: _Active, proc: asyncio.subprocess.Process, deadline: float | None
    ) -> int:
        idle = run.request.idle_timeout_s
        ended = asyncio.ensure_future(self._command_end(run, proc))
        try:
            while True:
                timeout = 0.25
                if deadline is not None and run.ending is None:
                    timeout = min(timeout, max(0.01, deadline - time.monotonic()))
                done, _ = await asyncio.wait({ended}, timeout=timeout)
                if done:
                    return ended.result()
                if run.ending is None and _expired(run, deadline, idle):
                    run.ending = RunStatus.TIMED_OUT
                    await self._kill(run)
        finally:
            ended.cancel()

    @staticmethod
    async def _command_end(run: _Active, proc: asyncio.subprocess.Process) -> int:
        """The command's return code (-N for signal N), from its supervisor where it has one."""
        if run.status is not None:
            end = await asyncio.shield(run.status.ended)
            if end.returncode is not None:
                return end.returncode
        # No supervisor, or it ended without saying (it was killed): its own code.
        return await proc.wait()

    async def _reap_supervisor(self, run: _Active, proc: asyncio.subprocess.Process) -> None:
        """Wait for the supervisor, which exits once the run has no process left."""
        try:
            await asyncio.wait_for(proc.wait(), self._settings.kill_grace_s + 5)
        except TimeoutError:
            # Something of the run outlived SIGKILL (a process stuck in the
            # kernel): the supervisor keeps waiting for it, but the run ends.
            logger.warning("The supervisor of run %s is still waiting; killing it", run.record.id)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if run.status is not None:
            run.status.close()

    @staticmethod
    def _command_pid(run: _Active) -> int:
        """The pid of the run's command (its supervisor's child, or the process itself)."""
        assert run.proc is not None
        if run.status is not None and run.status.command_pid is not None:
            return run.status.command_pid
        return run.proc.pid

    def _emit(self, run: _Active, stream: str, data: bytes) -> None:
        run.seq += 1
        chunk = Chunk(run.seq, stream, now(), data)
        if stream == "stdout":
            run.stdout_bytes += len(data)
        else:
            run.stderr_bytes += len(data)
        self.output_bytes[stream] = self.output_bytes.get(stream, 0) + len(data)
        run.log.add(chunk)
        for viewer in tuple(run.viewers):
            viewer.offer(chunk)
        if run.log.unsaved_bytes >= UNSAVED_LIMIT and not run.waiting_for_store:
            run.waiting_for_store = True
            for reader in run.readers:
                reader.pause()
            run.save_now.set()

    async def _save(self, run: _Active, *, final: bool = True) -> None:
        async with run.save_lock:
            await self._save_locked(run, final=final)

    async def _save_locked(self, run: _Active, *, final: bool) -> None:
        include_tail = (
            final
            or run.waiting_for_store
            or not run.log.dropping
            or time.monotonic() - run.tail_saved_at >= TAIL_SAVE_EVERY_S
        )
        if include_tail:
            run.tail_saved_at = time.monotonic()
        batch, drop = run.log.take_batch(include_tail=include_tail)
        await asyncio.to_thread(
            self._runs().save_output,
            run.record.id,
            batch,
            drop,
            piece=SAVE_PIECE,
            stdout_bytes=run.stdout_bytes,
            stderr_bytes=run.stderr_bytes,
            dropped_bytes=run.log.dropped_bytes,
            last_seq=run.seq,
        )
        run.log.saved(batch)
        if run.waiting_for_store and run.log.unsaved_bytes < UNSAVED_LIMIT // 2:
            run.waiting_for_store = False
            run.touch()  # the child was waiting for us, not idle
            for reader in run.readers:
                reader.resume()

    async def _save_periodically(self, run: _Active) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.save_now.wait(), SAVE_EVERY_S)
            run.save_now.clear()
            if run.stop_saving.is_set():
                return
            try:
                await self._save(run, final=False)
            except Exception as exc:
                # Kept in memory (within UNSAVED_LIMIT) and tried again: a
                # full disk may get space back, a busy database gets free.
                if not run.store_failing:
                    logger.error("Could not store the output of run %s (%s)", run.record.id, exc)
                run.store_failing = True
            else:
                if run.store_failing:
                    logger.info("The output of run %s is being stored again", run.record.id)
                run.store_failing = False

    async def _finish(
        self,
        run: _Active,
        status: RunStatus,
        exit_code: int | None,
        sig: int | None,
        error: str | None = None,
    ) -> None:
        try:
            await self._save(run)
        except Exception as exc:
            # The run's end is recorded all the same, with what went wrong.
            logger.exception("Could not store the last output of run %s", run.record.id)
            error = error or f"could not store its output: {exc}"
        await asyncio.to_thread(
            self._record_end,
            run.record.id,
            status=status,
            exit_code=exit_code,
            signal=sig,
            error=error,
            ended_at=now(),
            peak_rss=run.peak_rss or None,
            cpu_s=round(run.cpu_s, 3) if run.cpu_s else None,
        )
        for viewer in tuple(run.viewers):
            viewer.queue.put_nowait(ENDED)
        self._publish(run.record.id, status)

    def _record_end(self, run_id: str, **values: object) -> None:
        """Store how the run ended; its processes are gone and need not be remembered."""
        self._runs().update(run_id, **values)
        self._processes().forget(run_id)

    # -- acting on runs --------------------------------------------------------------

    async def async_cancel(self, run_id: str) -> None:
        """End a run: SIGTERM to its whole tree, then SIGKILL after the grace period."""
        run = self._active.get(run_id)
        if run is None:
            record = await asyncio.to_thread(self._runs().get, run_id)
            raise RunNotActiveError(f"The run {run_id} has already ended ({record.status}).")
        if run.ending is None:
            run.ending = RunStatus.CANCELLED
        if run.proc is not None:
            await self._kill(run)
        else:
            await self._wake_queue()  # a queued run held by a pause ends now

    async def async_input(self, run_id: str, data: bytes, *, close: bool = False) -> None:
        """Write to a running run's stdin (and close it if asked)."""
        run = self._active.get(run_id)
        if run is not None and run.pty is not None:
            # On a terminal, end of input is the EOF character, as typed.
            async with run.input_lock:  # one writer on the descriptor at a time
                await _write_all(run.pty, data + (b"\x04" if close else b""), run_id)
            return
        if run is None or run.proc is None or run.proc.stdin is None:
            raise RunNotActiveError(f"The run {run_id} is not running, so it takes no input.")
        try:
            if data:
                run.proc.stdin.write(data)
                await run.proc.stdin.drain()
            if close:
                run.proc.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            raise RunNotActiveError(f"The run {run_id} has closed its input.") from None

    async def _kill(self, run: _Active, *, only_leftovers: bool = False) -> None:
        proc = run.proc
        if proc is None:
            return
        # Without a subreaper (macOS) or a job holding the run (Windows), an
        # orphan that left the run's group is no one's child we can walk to:
        # look at every process, once per ending.
        everywhere = not self._orphans_adopted and not (
            run.container is not None and run.container.whole
        )
        known = await asyncio.to_thread(self._snapshot, run, None, everywhere=everywhere)
        if only_leftovers and not process_tree.any_alive(known):
            return
        if run.container is not None:
            # Windows: the job ends the whole tree at once, however it
            # detached; what follows then finds nothing left (or is the fallback).
            run.container.end()
        await asyncio.to_thread(
            process_tree.kill_blocking,
            known,
            # A supervised run is found whole by looking again (below), and
            # its command's group may be gone and its number reused.
            None if run.status is not None else proc.pid,
            self._settings.kill_grace_s,
            lambda: self._snapshot(run),
        )

    def _snapshot(
        self, run: _Active, roots: set[int] | None = None, *, everywhere: bool = False
    ) -> set[process_tree.Identity]:
        """Everything the run is known to own now (blocking: psutil).

        ``everywhere``: also every process on the machine that is in the
        run's session or carries its marker (see process_tree.marked_anywhere).
        """
        if run.proc is not None:
            # Under a supervisor, everything of the run is below it, whatever
            # it did to its session or environment; without one, a process
            # that detached is found by its session or its run marker.
            run.known |= process_tree.descendants(run.proc.pid)
            run.known |= process_tree.adopted_orphans(
                run.record.id,
                self._command_pid(run),
                exclude=self._roots() if roots is None else roots,
            )
            if everywhere:
                run.known |= process_tree.marked_anywhere(run.record.id, self._command_pid(run))
            container = run.container  # once: the loop may let it go meanwhile
            if container is not None:
                # Windows: the job's members, orphans included (no re-parenting there).
                run.known |= process_tree.identities(container.members())
            if run.supervisor is not None:
                run.known.discard(run.supervisor)
        return set(run.known)

    def _roots(self) -> set[int]:
        # list(): this runs in worker threads while the loop changes the dict.
        return {r.proc.pid for r in list(self._active.values()) if r.proc is not None}

    async def _watch(self) -> None:
        """Track each run's processes and resources; reap adopted orphans."""
        assert self._watch_wakeup is not None
        idle_since: float | None = None
        while True:
            if self._active:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= WATCH_LINGER_S:
                # Sleep until the next run, but look now and then for an
                # orphan that no run could be told it belongs to.
                self._watch_wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._watch_wakeup.wait(), WATCH_IDLE_S)
            await asyncio.sleep(WATCH_EVERY_S)
            await asyncio.to_thread(self._watch_once)

    def _watch_once(self) -> None:
        generation = self._spawn_gen
        roots = self._roots()
        # Only started runs own processes; a long queue costs nothing here.
        for run in [r for r in list(self._active.values()) if r.proc is not None]:
            known = self._snapshot(run, roots)
            rss = 0
            cpu = 0.0
            for ident in known:
                proc = process_tree.alive(ident)
                if proc is None:
                    continue
                with contextlib.suppress(psutil.Error):
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    cpu += times.user + times.system
            run.peak_rss = max(run.peak_rss, rss)
            run.cpu_s = max(run.cpu_s, cpu)
            self._remember(run)
        process_tree.reap_orphans(
            roots | self._roots(),
            still_safe=lambda: self._spawning == 0 and self._spawn_gen == generation,
        )

    # -- reading -------------------------------------------------------------------------

    def watch(self, run_id: str) -> Viewer | None:
        """A live viewer of an active run (None if it has ended); call ``unwatch`` after."""
        run = self._active.get(run_id)
        if run is None:
            return None
        viewer = Viewer()
        run.viewers.add(viewer)
        return viewer

    def unwatch(self, run_id: str, viewer: Viewer) -> None:
        """Stop delivering to ``viewer``."""
        run = self._active.get(run_id)
        if run is not None:
            run.viewers.discard(viewer)

    async def async_backlog(self, run_id: str, after: int, limit: int = 64) -> list[Chunk]:
        """Chunks with seq > ``after``: from the store, and from memory if not saved yet."""
        run = self._active.get(run_id)
        if run is not None:
            # A viewer catching up with a flood reads the tail from memory:
            # no thread, no query, no decryption.
            found = run.log.from_memory(after, limit)
            if found is not None:
                return found
        pending = run.log.unsaved() if run is not None else []
        stored = await asyncio.to_thread(self._runs().chunks, run_id, after=after, limit=limit)
        merged = {c.seq: c for c in stored}
        for chunk in pending:
            if chunk.seq > after:
                merged.setdefault(chunk.seq, chunk)
        return [merged[s] for s in sorted(merged)][:limit]

    async def async_wait(self, run_id: str) -> RunRecord:
        """Wait until the run has ended; its final record (raises NotFoundError)."""
        run = self._active.get(run_id)
        if run is not None and run.task is not None:
            # Shielded: a waiter that gives up must not end the run itself.
            await asyncio.shield(run.task)
        return await self.async_record(run_id)

    async def async_record(self, run_id: str) -> RunRecord:
        """The stored record of a run (raises NotFoundError)."""
        return await asyncio.to_thread(self._runs().get, run_id)

    def active_runs(self) -> list[RunRecord]:
        """The records of queued and running runs, oldest first (as last saved)."""
        return [run.record for run in self._active.values()]

    def is_active(self, run_id: str) -> bool:
        """Whether the run is queued or running."""
        return run_id in self._active

    @property
    def running_count(self) -> int:
        """Runs holding a slot (running, or ending)."""
        return self._running

    @property
    def queued_count(self) -> int:
        """Runs waiting for a slot or for the runner to resume."""
        return max(0, len(self._active) - self._running)

    def _publish(self, run_id: str, status: RunStatus) -> None:
        self.status_counts[status] = self.status_counts.get(status, 0) + 1
        self._bus.publish(RunChanged(run_id=run_id, status=status))


def _expired(run: _Active, deadline: float | None, idle: float | None) -> bool:
    current = time.monotonic()
    if deadline is not None and current >= deadline:
        return True
    if run.waiting_for_store and not run.store_failing:
        return False  # the child is blocked on us, not idle
    return idle is not None and current - run.last_output >= idle


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # the selector may report the descriptor again first
        future.set_result(None)


async def _write_all(fd: int, data: bytes, run_id: str) -> None:
    """Write all of ``data`` to a terminal's master side, as fast as the program reads it.

    A terminal takes only a few KiB of input at a time: a write takes what
    fits and the rest waits until the descriptor is writable again.
    """
    make_nonblocking(fd)  # never block the loop, whatever else set
    loop = asyncio.get_running_loop()
    rest = memoryview(data)
    while rest:
        try:
            rest = rest[os.write(fd, rest) :]
        except BlockingIOError:
            writable: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _resolve, writable)
            try:
                await writable
            finally:
                loop.remove_writer(fd)
        except OSError:  # EIO: the program has gone
            raise RunNotActiveError(f"The run {run_id} has closed its input.") from None


def _start_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0
