"""Opening SQLCipher connections and the SQLAlchemy engines over them.

The key is the raw 32 bytes (``PRAGMA key = "x'..'"``): a passphrase would
cost a ~100 ms key derivation on every new connection. A wrong key only
shows on the first real query, so every connection runs one right away.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

# Enough page cache to keep a desktop-sized working set decrypted in memory:
# a point lookup then costs what it costs unencrypted (bench/RESULTS.md).
CACHE_KIB = 65536
BUSY_TIMEOUT_MS = 10_000

DBAPIConnection = Any
Creator = Callable[[], DBAPIConnection]


def connect(path: Path, key: bytes | None, *, create: bool = False) -> DBAPIConnection:
    """Open ``path`` with ``key`` and prove the key works with a real query.

    ``key=None`` opens an unencrypted file through the same library; only the
    store benchmark uses that, as its baseline. ``create=False`` never makes
    a new file, so a missing database is never silently replaced.
    """
    mode = "rwc" if create else "rw"
    conn = sqlcipher.connect(
        f"file:{path}?mode={mode}", uri=True, check_same_thread=False, isolation_level=None
    )
    try:
        # SQLCipher logs decryption failures to stderr itself; we report them.
        conn.execute("PRAGMA cipher_log_level = NONE")
        if key is not None:
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        # NORMAL in WAL mode: a crashed or killed process loses nothing it
        # committed; only a power cut can lose the last commits, never consistency.
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def build_engine(creator: Creator, *, writer: bool) -> Engine:
    """An engine over ``creator``'s connections.

    The writer engine has one connection, so writes queue in-process instead
    of fighting over SQLite's lock, and starts transactions with ``BEGIN
    IMMEDIATE`` so a read-then-write never fails half way with "database is
    locked". The reader engine's connections are ``query_only``.
    """
    engine = create_engine(
        "sqlite://",
        creator=creator,
        # The dialect must know sqlcipher3's exception classes to wrap them
        # (IntegrityError, DatabaseError, ...) as SQLAlchemy's.
        module=sqlcipher,
        poolclass=QueuePool,
        pool_size=1 if writer else 4,
        max_overflow=0 if writer else 4,
        pool_timeout=60,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: object) -> None:
        if writer:
            # Checkpoints run on a thread of their own (store/write_queue.py).
            dbapi_conn.execute("PRAGMA wal_autocheckpoint = 0")
        else:
            dbapi_conn.execute("PRAGMA query_only = ON")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine
