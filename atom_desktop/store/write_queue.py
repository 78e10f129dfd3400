"""Fair turns at the one writer connection, and checkpoints off the writers' path.

SQLAlchemy's pool hands the single writer connection to whichever thread
asks first after it is returned, so a thread saving a flood's output in many
short transactions kept winning it back, and a one-row write (a task, an
automation run) could wait behind it for a hundred milliseconds and more
(bench/automations.py). :class:`FairLock` queues writers first come, first
served. :class:`WalCheckpointer` copies the WAL into the database on a
thread of its own: SQLite's automatic checkpoint runs inside whichever commit
crosses the threshold, which made that writer - and everyone queued behind
it - wait for megabytes to be encrypted and written.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import traceback
from collections import deque

from atom_desktop.core.tally import Tally
from atom_desktop.store.engine import DBAPIConnection

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 0.5
STOP_WAIT_S = 3.0


class FairLock:
    """A mutex that hands itself to waiters in the order they came."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()
        #: Seconds each acquisition waited for its turn (0 when free); the
        #: metrics read it. Written under ``_guard`` or by the turn's holder.
        self.waits = Tally()

    @property
    def waiting(self) -> int:
        """How many threads wait for their turn."""
        with self._guard:
            return len(self._waiters)

    def acquire(self) -> None:
        """Wait for this thread's turn."""
        with self._guard:
            if not self._held:
                self._held = True
                self.waits.observe(0.0)
                return
            turn = threading.Event()
            self._waiters.append(turn)
        began = time.monotonic()
        turn.wait()  # the releaser handed the lock over: it stays held
        # Only the holder records now: one writer at a time.
        self.waits.observe(time.monotonic() - began)

    def release(self) -> None:
        """Pass the lock to the longest waiter, or free it."""
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class WalCheckpointer:
    """Checkpoints the WAL (PASSIVE: never blocks readers or the writer) after writes.

    It gets its connection ready-made, so its thread never opens one, and
    :meth:`stop` interrupts a checkpoint in progress: closing the database
    never waits on it.
    """

    def __init__(self, conn: DBAPIConnection) -> None:
        self._conn = conn
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._conn_lock = threading.Lock()
        self._conn_closed = False
        self._thread = threading.Thread(target=self._run, name="atom-wal-checkpoint", daemon=True)
        self._thread.start()

    @property
    def thread_alive(self) -> bool:
        """Whether the checkpoint thread is still running."""
        return self._thread.is_alive()

    def written(self) -> None:
        """Note that a transaction was committed."""
        self._dirty.set()

    def stop(self) -> None:
        """Stop the thread (the database's close does the final checkpoint)."""
        self._stopping.set()
        self._dirty.set()
        deadline = time.monotonic() + STOP_WAIT_S
        # sqlite3_interrupt() ends a checkpoint in progress (it is
        # thread-safe), but one that is just about to start misses it: so ask
        # again until the thread has gone.
        while self._thread.is_alive() and time.monotonic() < deadline:
            with self._conn_lock:
                # Never on a closed (or closing) connection: that is unsafe.
                if not self._conn_closed:
                    with contextlib.suppress(Exception):
                        self._conn.interrupt()
            self._thread.join(0.05)
        if self._thread.is_alive():
            # Closing goes on: the last connection's close checkpoints anyway.
            frame = sys._current_frames().get(self._thread.ident or -1)
            where = "".join(traceback.format_stack(frame)) if frame else "(no frame)"
            logger.warning(
                "The checkpoint thread did not stop within %.0f s; it is at:\n%s",
                STOP_WAIT_S,
                where,
            )

    def _run(self) -> None:
        try:
            while True:
                self._dirty.wait()
                if self._stopping.wait(CHECKPOINT_EVERY_S):
                    return
                self._dirty.clear()
                # stop() sets _stopping before _dirty: if this clear swallowed
                # its _dirty, _stopping is already set, and we must not go
                # back to waiting for a write that will never come.
                if self._stopping.is_set():
                    return
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except Exception:
                    if self._stopping.is_set():
                        return
                    # Not fatal: the next write asks again; until then the WAL grows.
                    logger.warning("Checkpointing the write-ahead log failed", exc_info=True)
        finally:
            with self._conn_lock:
                self._conn_closed = True
            self._conn.close()
