"""Sync as a runtime service: the engine kept running in the background.

Started by the runtime always, but it only works when a server URL is set
(``ATOM_SYNC_URL``): without one it opens no connection and starts no task
or thread, and its status says ``off``.

With a URL, one task on the agent loop decides when to sync and runs the
engine's blocking steps in worker threads:

- a push soon after a local change (the store announces every change on the
  event bus; the outbox is read first, so changes that a pull wrote, which
  leave nothing to push, cost no round trip);
- a pull when the server announces a change of the tenant (``LISTEN`` on a
  connection of its own, in a thread that wakes the task), and every
  ``poll_s`` seconds in case a notification was lost;
- after a failure, a retry after a capped exponential backoff with jitter;
  nothing is dropped (the outbox keeps every change until the server has it)
  and nothing waits on sync (local work goes on).

Its status (state, queue depth, oldest pending change, last success, last
error, conflicts) is published on the event bus as :class:`SyncStatusChanged`
whenever it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event, EventBus, SyncStatusChanged
from atom_desktop.core.redaction import Redactor
from atom_desktop.store.replica import SyncReplica
from atom_desktop.store.service import StoreService
from atom_desktop.sync.connection_settings import with_password
from atom_desktop.sync.engine import SyncEngine
from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.server.connection import ServerAddress, connect, parse_address

logger = logging.getLogger(__name__)

SyncState = Literal["off", "syncing", "up_to_date", "offline", "error"]

#: Failures that mean "the server cannot be reached", as opposed to "it said no".
_OFFLINE = frozenset(
    {ServerProblem.DNS, ServerProblem.REFUSED, ServerProblem.TIMEOUT, ServerProblem.DISCONNECTED}
)
#: Local changes announced on the bus; each may have left an outbox entry.
_LOCAL_CHANGES = ("task.changed", "automation.changed", "run.changed")
#: Push/pull rounds in one sync before it yields to the loop's other work;
#: a pull that keeps finding new rows (a busy tenant) is picked up next time.
_MAX_ROUNDS = 10
#: Seconds the listener waits for notifications before it checks for a stop.
_LISTEN_TICK_S = 0.5
#: Seconds a stop waits for a sync step in progress to end.
_STOP_WAIT_S = 5.0


def backoff_delay(
    failures: int, base_s: float, cap_s: float, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after ``failures`` failures in a row.

    Doubling from ``base_s`` up to ``cap_s``, then scaled by a random factor
    in [0.5, 1), so that many devices that lost the same server do not all
    come back at the same moment.
    """
    delay = min(cap_s, base_s * 2.0 ** min(max(failures - 1, 0), 32))
    return delay * (0.5 + 0.5 * jitter())


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What sync is doing and what waits; no secret is in it."""

    state: SyncState
    #: The server, as a URL without its password (None when sync is off).
    server: str | None
    #: Local changes waiting to be pushed.
    pending: int
    #: When the oldest of them was made.
    oldest_pending: datetime | None
    #: When a sync last ended without error.
    last_success: datetime | None
    #: What the last sync failed on (None after a success).
    last_error: str | None
    #: Conflicts in the inbox, waiting to be looked at.
    conflicts: int
    #: Syncs asked for by :meth:`SyncService.async_run_now`, numbered from 1.
    requested: int
    #: The highest such number a successful sync covered: it ended with the
    #: queue empty and a pull that found nothing new.
    completed: int
    #: The highest such number a failed sync covered.
    failed: int


class SyncOffError(AtomError):
    """Sync was asked to run, but no server is configured."""


class SyncService:
    """Keeps one store in sync with the server named by ``url`` (None: sync off)."""

    name = "sync"

    def __init__(
        self,
        url: str | None,
        store: StoreService,
        bus: EventBus,
        redactor: Redactor,
        *,
        password: Callable[[], str | None] | None = None,
        poll_s: float = 30.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
    ) -> None:
        self._url = url
        self._password = password
        self._store = store
        self._bus = bus
        self._redactor = redactor
        self._poll_s = poll_s
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._address: ServerAddress | None = None
        self._engine: SyncEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._listener: threading.Thread | None = None
        self._stop_listening = threading.Event()
        self._unsubscribe: Any = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._want_push = False
        self._want_pull = False
        self._forced = False
        self._failures = 0
        self._retry_at: float | None = None
        # What was last published, so that only changes are.
        self._published: tuple[str, int, int, str | None] | None = None
        self._status = SyncStatus(
            state="off",
            server=None,
            pending=0,
            oldest_pending=None,
            last_success=None,
            last_error=None,
            conflicts=0,
            requested=0,
            completed=0,
            failed=0,
        )

    # -- the service --------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether a server is configured (sync may still be failing)."""
        return self._url is not None

    @property
    def status(self) -> SyncStatus:
        """The status as last known (queue counts as of the last sync or change)."""
        return self._status

    async def async_start(self) -> None:
        """Start syncing when a URL is set; with none, do nothing at all."""
        if self._url is None:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        try:
            url = self._url
            if self._password is not None and not parse_address(url).password:
                # The keyring is read off the loop: it may ask a D-Bus service.
                url = with_password(url, await asyncio.to_thread(self._password))
            self._address = parse_address(url)
        except SyncError as exc:
            # A URL that cannot be read stops sync, not the agent: local work goes on.
            self._status = replace(self._status, state="error", last_error=self._describe(exc))
            logger.error("Sync is off: %s", self._status.last_error)
            await self._async_refresh()
            return
        if self._address.password:
            self._redactor.add(self._address.password)
        self._status = replace(self._status, server=self._address.display, state="syncing")
        self._engine = SyncEngine(
            self._store.database, self._address, bus=self._bus, redactor=self._redactor
        )
        self._want_push = self._want_pull = True
        self._unsubscribe = self._bus.subscribe(self._on_local_change, *_LOCAL_CHANGES)
        self._stop_listening.clear()
        self._listener = threading.Thread(
            target=self._listen, args=(self._address,), name="atom-sync-listen", daemon=True
        )
        self._listener.start()
        self._task = asyncio.create_task(self._async_main(), name="atom-sync")
        logger.info("Sync with %s started", self._address.display)

    async def async_stop(self) -> None:
        """Stop the task and the listener, let a step in progress end, close the connection."""
        self._stopping = True
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop_listening.set()
        task, self._task = self._task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), _STOP_WAIT_S)
            except TimeoutError:
                logger.warning(
                    "A sync step did not end within %.0f s; it is abandoned", _STOP_WAIT_S
                )
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        listener, self._listener = self._listener, None
        if listener is not None:
            await asyncio.to_thread(listener.join, _STOP_WAIT_S)
        engine, self._engine = self._engine, None
        if engine is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(engine.async_close(), _STOP_WAIT_S)

    async def async_reconfigure(self, url: str | None) -> None:
        """Sync with the server at ``url`` from now on (None: turn sync off).

        What sync is doing ends first, as at a stop; nothing waiting in the
        outbox is lost, and it goes to the new server. Requests of
        :meth:`async_run_now` not yet answered are answered by the first
        sync with the new server.
        """
        await self.async_stop()
        self._url = url
        self._address = None
        self._failures, self._retry_at = 0, None
        self._status = replace(
            self._status, state="off", server=None, last_error=None, last_success=None
        )
        if url is None:
            logger.info("Sync is off")
            await self._async_refresh()
            return
        await self.async_start()

    async def async_refresh(self) -> SyncStatus:
        """Read the queue and conflict counts now, and publish the status if it changed.

        For changes sync does not make itself, such as a conflict resolved.
        """
        await self._async_refresh()
        return self._status

    async def async_status(self) -> SyncStatus:
        """The status with the queue and conflict counts read now."""
        await self._async_refresh(publish=False)
        return self._status

    async def async_run_now(self) -> int:
        """Ask for a full sync now (backoff or not); returns the request's number.

        :attr:`SyncStatus.completed` or :attr:`SyncStatus.failed` reaches the
        number once a sync that began after the request has ended.
        """
        if self._url is None:
            raise SyncOffError(
                "Sync is off: no server is configured.",
                hint="Connect a server: atom-desktop sync connect URL (or set ATOM_SYNC_URL).",
            )
        number = self._status.requested + 1
        self._status = replace(self._status, requested=number)
        if self._engine is None:
            # The URL could not be read: this request fails at once, saying why.
            self._status = replace(self._status, failed=number)
            return number
        self._want_push = self._want_pull = True
        self._forced = True
        self._wake.set()
        return number

    # -- the task on the loop -------------------------------------------------------

    async def _async_main(self) -> None:
        while not self._stopping:
            try:
                if not await self._async_wait_for_work():
                    return
                await self._async_sync()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug must not end sync for the rest of the session: log it,
                # back off as after any failure, try again.
                logger.exception("Sync failed unexpectedly; it will try again")
                self._failed(SyncError("Sync failed unexpectedly; see the log."))

    async def _async_wait_for_work(self) -> bool:
        """Wait until there is something to do (True) or the service stops (False)."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if self._retry_at is not None:
                if self._forced or loop.time() >= self._retry_at:
                    self._want_push = self._want_pull = True
                    return True
                timeout = self._retry_at - loop.time()
            elif self._want_push or self._want_pull:
                return True
            else:
                timeout = self._poll_s
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                if self._retry_at is None:
                    self._want_pull = True  # the periodic poll
            else:
                if self._retry_at is not None and not self._forced and not self._stopping:
                    # A local change while sync waits to retry: the queue grew, and
                    # whoever shows the status should see it now, not at the retry.
                    await self._async_refresh()
        return False

    async def _async_sync(self) -> None:
        assert self._engine is not None
        engine = self._engine
        pull, target = self._want_pull, self._status.requested
        self._want_push = self._want_pull = self._forced = False
        if not pull and self._retry_at is None and await asyncio.to_thread(self._nothing_pending):
            return  # a change that left nothing to push (a pulled one)
        self._set_state("syncing")
        try:
            rounds = 0
            while True:
                rounds += 1
                await engine.async_push_once()
                if not pull:
                    break
                result = await engine.async_pull_once()
                if result.received == 0 or rounds >= _MAX_ROUNDS:
                    break
        except SyncError as exc:
            self._failed(exc, target)
        else:
            caught_up = not pull or result.received == 0
            self._failures, self._retry_at = 0, None
            self._status = replace(
                self._status,
                state="up_to_date",
                last_success=datetime.now(UTC),
                last_error=None,
            )
            if pull and caught_up:
                self._status = replace(self._status, completed=max(self._status.completed, target))
            if not caught_up:
                self._want_pull = True
        await self._async_refresh()

    def _failed(self, exc: SyncError, target: int | None = None) -> None:
        """Record a failure and when to try again; every change is kept for then."""
        self._failures += 1
        delay = backoff_delay(self._failures, self._backoff_base_s, self._backoff_cap_s)
        if self._loop is not None:
            self._retry_at = self._loop.time() + delay
        state: SyncState = "offline" if exc.problem in _OFFLINE else "error"
        message = self._describe(exc)
        if message != self._status.last_error:
            logger.warning("Sync failed (retry in %.1f s): %s", delay, message)
        self._status = replace(
            self._status,
            state=state,
            last_error=message,
            failed=max(self._status.failed, target or self._status.requested),
        )

    # -- helpers ------------------------------------------------------------------

    def _describe(self, exc: AtomError) -> str:
        text = exc.message if exc.hint is None else f"{exc.message} {exc.hint}"
        return self._redactor.redact(text)

    def _nothing_pending(self) -> bool:
        return self._store.outbox.count() == 0

    def _set_state(self, state: SyncState) -> None:
        if state != self._status.state:
            self._status = replace(self._status, state=state)
            self._publish()

    async def _async_refresh(self, *, publish: bool = True) -> None:
        """Read the queue and conflict counts; publish the status if it changed."""
        try:
            pending, oldest, conflicts = await asyncio.to_thread(self._counts)
        except AtomError as exc:  # the store is closing
            logger.debug("Sync status not refreshed: %s", exc)
            return
        self._status = replace(
            self._status, pending=pending, oldest_pending=oldest, conflicts=conflicts
        )
        if publish:
            self._publish()

    def _counts(self) -> tuple[int, datetime | None, int]:
        outbox = self._store.outbox
        replica = self._engine.replica if self._engine else SyncReplica(self._store.database)
        conflicts = replica.conflict_count()
        oldest = outbox.oldest()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)  # the store keeps UTC without a zone
        return outbox.count(), oldest, conflicts

    def _publish(self) -> None:
        status = self._status
        key = (status.state, status.pending, status.conflicts, status.last_error)
        if key == self._published:
            return
        self._published = key
        self._bus.publish(
            SyncStatusChanged(
                state=status.state,
                pending=status.pending,
                conflicts=status.conflicts,
                last_error=status.last_error,
            )
        )

    def _on_local_change(self, event: Event) -> None:
        """From any thread: a change may wait in the outbox; push soon."""
        del event
        self._call_on_loop(self._wake_for, False)

    def _wake_for(self, pull: bool) -> None:
        if pull:
            self._want_pull = True
        else:
            self._want_push = True
        self._wake.set()

    def _call_on_loop(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(fn, *args)

    # -- the listener thread ------------------------------------------------------

    def _listen(self, address: ServerAddress) -> None:
        """LISTEN on the tenant's channel and wake the task at every notification.

        It reconnects after a failure with its own backoff; the task's
        polling covers the time it is away, and a pull follows each
        reconnection, for what was announced meanwhile.
        """
        failures = 0
        while not self._stop_listening.is_set():
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = connect(address, autocommit=True, redactor=self._redactor)
                row = conn.execute("SELECT atom_sync.notify_channel()").fetchone()
                if row is None or not row[0]:
                    raise SyncError("The server names no notification channel for this role.")
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(str(row[0]))))
                if failures:
                    self._call_on_loop(self._wake_for, True)
                failures = 0
                while not self._stop_listening.is_set():
                    for _ in conn.notifies(timeout=_LISTEN_TICK_S):
                        self._call_on_loop(self._wake_for, True)
            except (psycopg.Error, SyncError) as exc:
                failures += 1
                text = exc.message if isinstance(exc, SyncError) else str(exc).strip()
                logger.debug("Sync listener: %s", self._redactor.redact(text))
            finally:
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
            if failures:
                delay = backoff_delay(failures, self._backoff_base_s, self._backoff_cap_s)
                self._stop_listening.wait(delay)
