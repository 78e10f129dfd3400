"""The sync engine: push the outbox, pull the server's changes, one step at a time.

Threading: :meth:`SyncEngine.push_once`, :meth:`SyncEngine.pull_once` and
:meth:`SyncEngine.sync_once` block (network and SQLite) and may be called
from any thread but the event loop; the ``async_*`` methods run them in a
worker thread for the agent loop. One engine serves one store, and its
steps take turns (a lock), so a push and a pull never interleave: a pull
then never sees an entry that a push has sent but not yet acknowledged.

Failures are raised as :class:`SyncError` (a dropped connection as
:class:`ServerConnectError`) after the connection is dropped; the next
call connects again. Retrying, backoff and ``LISTEN`` belong to the
caller, which knows when the agent is idle or offline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import psycopg

from atom_desktop.core.events import AutomationPulled, EventBus, TaskChanged
from atom_desktop.core.redaction import Redactor
from atom_desktop.store.database import Database
from atom_desktop.store.outbox import OutboxEntry
from atom_desktop.store.replica import RemoteRow, SyncReplica
from atom_desktop.sync.errors import ServerProblem, SyncError
from atom_desktop.sync.pull import reading_ahead
from atom_desktop.sync.push import BatchOutcome, push_batch
from atom_desktop.sync.secrets import with_local_secrets
from atom_desktop.sync.server.connection import ServerAddress, connect, connect_error, error_line
from atom_desktop.sync.server.schema import check_server_version

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Outbox entries per server transaction: large enough that a round trip is
#: a small part of a batch, small enough that a batch re-sent after a crash
#: or a dropped connection costs little.
BATCH_SIZE = 500
#: Rows per table per pulled page; each page is one local transaction.
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one push did."""

    #: Outbox entries sent and removed.
    sent: int
    #: Rows whose version the server took.
    applied: int
    #: Local changes that lost to a newer version from another device (now in the inbox).
    conflicts: int


@dataclass(slots=True)
class PullResult:
    """What one pull did."""

    #: Rows read from the server.
    received: int = 0
    #: ``(entity, id, op)`` of the rows written here.
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    #: Versions filed in the conflict inbox.
    conflicts: int = 0
    #: The cursor after the pull.
    cursor: int = 0


class SyncEngine:
    """Pushes one store's outbox to a server and pulls the server's changes into it."""

    def __init__(
        self,
        db: Database,
        address: ServerAddress,
        *,
        bus: EventBus | None = None,
        redactor: Redactor | None = None,
        batch_size: int = BATCH_SIZE,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.replica = SyncReplica(db)
        self._address = address
        self._bus = bus
        self._redactor = redactor or Redactor()
        self._batch_size = batch_size
        self._page_size = page_size
        self._turn = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    # -- blocking steps -------------------------------------------------------------

    def push_once(self) -> PushResult:
        """Send every entry pending now, a batch per server transaction.

        An entry is removed only after the server has committed the batch
        holding it; a failure at any point leaves it to be sent again, and
        sending it again changes nothing on the server.
        """
        with self._turn:
            device_id = self.replica.device_id()
            sent = applied = conflicts = 0
            after = 0
            while True:
                batch = self.replica.pending(self._batch_size, after)
                if not batch:
                    break
                # A session kept open must not go on writing to a server that a
                # newer version has set up since it was opened: checked once a push.
                outcome = self._on_server(
                    partial(self._push, device_id=device_id, batch=batch, check=not sent)
                )
                self.replica.acknowledge(batch, outcome.lost)
                sent += len(batch)
                applied += outcome.applied
                conflicts += len(outcome.lost)
                after = batch[-1].seq
            return PushResult(sent, applied, conflicts)

    def pull_once(self) -> PullResult:
        """Apply every server change after this device's cursor, a page per local transaction."""
        with self._turn:
            result = PullResult(cursor=self.replica.cursor())

            def pull(conn: psycopg.Connection[Any]) -> None:
                # The next page is read from the server while this one is applied.
                with reading_ahead(
                    conn, result.cursor, self._page_size, check_server_version
                ) as pages:
                    for page in pages:
                        applied = self.replica.apply(page.rows, page.cursor, self._merge)
                        result.received += len(page.rows)
                        result.changed.extend(applied.changed)
                        result.conflicts += applied.conflicts
                        result.cursor = page.cursor

            self._on_server(pull)
        self._announce(result.changed)
        return result

    def sync_once(self) -> tuple[PushResult, PullResult]:
        """Push, then pull: the device's changes out, everyone else's in."""
        return self.push_once(), self.pull_once()

    def close(self) -> None:
        """Close the server connection (the next step opens another)."""
        with self._turn:
            self._drop()

    # -- for the agent loop ---------------------------------------------------------

    async def async_push_once(self) -> PushResult:
        """:meth:`push_once` in a worker thread."""
        return await asyncio.to_thread(self.push_once)

    async def async_pull_once(self) -> PullResult:
        """:meth:`pull_once` in a worker thread."""
        return await asyncio.to_thread(self.pull_once)

    async def async_sync_once(self) -> tuple[PushResult, PullResult]:
        """:meth:`sync_once` in a worker thread."""
        return await asyncio.to_thread(self.sync_once)

    async def async_close(self) -> None:
        """:meth:`close` in a worker thread (it may wait for a step to end)."""
        await asyncio.to_thread(self.close)

    # -- helpers ------------------------------------------------------------------

    def _push(
        self,
        conn: psycopg.Connection[Any],
        *,
        device_id: str,
        batch: list[OutboxEntry],
        check: bool,
    ) -> BatchOutcome:
        return push_batch(
            conn, device_id, batch, self._redactor, check_server_version if check else None
        )

    def _merge(self, remote: dict[str, Any], local: dict[str, Any] | None) -> dict[str, Any]:
        return with_local_secrets(remote, local, self._redactor)

    def _on_server(self, step: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run ``step(conn)``; on a connection failure drop the connection and say what failed."""
        conn = self._connection()
        try:
            return step(conn)
        except psycopg.OperationalError as exc:
            self._drop()
            raise connect_error(self._address, str(exc), self._redactor) from None
        except psycopg.Error as exc:
            self._drop()
            raise SyncError(
                f"The sync server refused a change: {self._redactor.redact(error_line(exc))}.",
                problem=ServerProblem.OTHER,
            ) from None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = connect(self._address, redactor=self._redactor)
        try:
            check_server_version(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _announce(self, changed: Sequence[tuple[str, str, str]]) -> None:
        if self._bus is None:
            return
        for entity, entity_id, op in changed:
            if entity == "task":
                self._bus.publish(TaskChanged(task_id=entity_id, op=op))
            elif entity == "automation":
                # The automation service re-arms it from the store (and says so).
                self._bus.publish(AutomationPulled(automation_id=entity_id, op=op))


__all__ = ["PullResult", "PushResult", "RemoteRow", "SyncEngine"]
