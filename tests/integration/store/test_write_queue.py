"""Writers take turns in arrival order; checkpoints happen off the writers' path."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from atom_desktop.store.database import Database
from atom_desktop.store.engine import connect
from atom_desktop.store.write_queue import FairLock, WalCheckpointer


def test_the_lock_goes_to_waiters_in_the_order_they_came() -> None:
    lock = FairLock()
    order: list[str] = []
    lock.acquire()
    threads = []
    for name in ("first", "second", "third"):

        def take(name: str = name) -> None:
            with lock:
                order.append(name)

        thread = threading.Thread(target=take)
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 10
        while lock.waiting < len(threads):  # queued before the next one starts
            assert time.monotonic() < deadline, "a thread never queued"
            time.sleep(0.001)
    # The releasing thread asks again at once, as a flood's saver does: it
    # must queue behind the others instead of winning the lock back.
    lock.release()
    lock.acquire()
    order.append("releaser")
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second", "third", "releaser"]


def test_committed_pages_reach_the_database_file_without_a_commit_waiting(
    db: Database, db_path: Path
) -> None:
    before = db_path.stat().st_size
    with db.write() as session:
        session.execute(text("CREATE TABLE blobs (data BLOB)"))
        session.execute(text("INSERT INTO blobs VALUES (randomblob(2000000))"))
    # The writer does not checkpoint (its commit returned with the pages in
    # the WAL); the checkpoint thread copies them into the file shortly after.
    deadline = time.monotonic() + 10
    while db_path.stat().st_size < before + 2_000_000:
        assert time.monotonic() < deadline, "the WAL was never checkpointed"
        time.sleep(0.05)
    with db.read() as session:
        assert session.execute(text("SELECT length(data) FROM blobs")).scalar() == 2_000_000


def test_stopping_ends_the_checkpoint_thread_even_mid_checkpoint(
    db: Database, db_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Stop at every moment of the thread's cycle: before, during and after a checkpoint."""
    with db.write() as session:
        session.execute(text("CREATE TABLE blobs (data BLOB)"))
    for round_ in range(30):
        # Megabytes in the WAL, so a checkpoint takes a while.
        with db.write() as session:
            session.execute(text("INSERT INTO blobs VALUES (randomblob(4000000))"))
        checkpointer = WalCheckpointer(connect(db_path, key))
        checkpointer.written()
        # Somewhere in 0-0.6 s: the thread waits 0.5 s, then checkpoints.
        time.sleep(round_ * 0.02)
        checkpointer.stop()
        assert not checkpointer.thread_alive, f"round {round_}"
    assert "did not stop" not in caplog.text
