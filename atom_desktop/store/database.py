"""The encrypted database: open, verify, migrate, hand out sessions, close."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from atom_desktop.config.database_files import START_FRESH
from atom_desktop.core.hlc import wall_ms
from atom_desktop.core.tally import Tally
from atom_desktop.store.engine import DBAPIConnection, build_engine, connect
from atom_desktop.store.errors import (
    DatabaseCorruptError,
    DatabaseUnreadableError,
    StoreError,
)
from atom_desktop.store.migrator import migrate
from atom_desktop.store.sync_state import ChangeClock, load_change_clock
from atom_desktop.store.write_queue import FairLock, WalCheckpointer

logger = logging.getLogger(__name__)


# The files SQLite keeps beside a database: they belong to it, and go where it goes.
class Database:
    """One SQLCipher database with a single-connection writer and a reader pool.

    Build it with :meth:`open`; everything here blocks, so async code calls
    it through a thread.
    """

    def __init__(
        self,
        path: Path,
        writer: Engine,
        reader: Engine,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._turns = FairLock()
        self._checkpointer = checkpointer
        self._change_clock: ChangeClock | None = None
        self._change_clock_lock = threading.Lock()
        #: The wall clock (ms) the change clock reads; tests set a skewed one.
        self.wall_ms: Callable[[], int] = wall_ms

    @classmethod
    def open(cls, path: Path, key: bytes, *, key_verified: bool = False) -> Database:
        """Open (or create) the database at ``path``, check it and migrate it.

        ``key_verified`` says the key is known to belong to this file, so a
        failure to read means damage rather than a wrong key. On any failure
        the file is left exactly as it was.
        """
        exists = path.exists() and path.stat().st_size > 0
        first = _open_first(path, key, create=not exists, key_verified=key_verified)
        if not exists:
            # Private to the user; SQLite gives the WAL and SHM files the same mode.
            path.chmod(0o600)
        try:
            if exists:
                _check_integrity(first, path)
            # WAL lets the UI and API read while the runner writes. It must be
            # set outside a transaction, so on the raw connection.
            first.execute("PRAGMA journal_mode = WAL")
        finally:
            first.close()
        writer = build_engine(partial(connect, path, key), writer=True)
        reader = build_engine(partial(connect, path, key), writer=False)
        db = cls(path, writer, reader, WalCheckpointer(connect(path, key)))
        try:
            migrate(writer)
        except BaseException:
            db.close()
            raise
        return db

    @property
    def write_waits(self) -> Tally:
        """How long each write waited for its turn at the writer (seconds)."""
        return self._turns.waits

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on error."""
        with (
            self._turns,
            _translated(self.path),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
        if self._checkpointer is not None:
            self._checkpointer.written()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session with one consistent snapshot."""
        with (
            _translated(self.path),
            Session(self._reader, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def change_clock(self, session: Session) -> ChangeClock:
        """The device id and change clock, read through ``session`` the first time."""
        with self._change_clock_lock:
            if self._change_clock is None:
                self._change_clock = load_change_clock(session, self._wall)
            return self._change_clock

    def _wall(self) -> int:
        # Read at each stamp, so a test may skew this device's clock at any time.
        return self.wall_ms()

    def check_integrity(self) -> None:
        """Verify every page's HMAC and the b-tree structure; raise if damaged."""
        with _translated(self.path), self._writer.connect() as conn:
            _check_integrity(conn.connection.dbapi_connection, self.path)

    def schema_revision(self) -> str | None:
        """The migration revision the database is at."""
        with self.read() as session:
            return session.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def close(self) -> None:
        """Close every connection (checkpointing the WAL)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._reader.dispose()
        self._writer.dispose()


def _check_integrity(conn: DBAPIConnection, path: Path) -> None:
    started = time.perf_counter()
    try:
        pages = [row[0] for row in conn.execute("PRAGMA cipher_integrity_check")]
        structure = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except Exception as exc:
        pages, structure = [str(exc)], []
    problems = pages + [p for p in structure if p != "ok"]
    if problems:
        raise DatabaseCorruptError(
            f"The database {path} is damaged: {'; '.join(problems[:5])}.",
            hint="The file was kept as it is. Restore it from a backup; ask for help "
            f"before deleting it. {START_FRESH}",
        )
    logger.debug("Integrity check of %s took %.3f s", path, time.perf_counter() - started)


def _open_first(path: Path, key: bytes, *, create: bool, key_verified: bool) -> DBAPIConnection:
    try:
        return connect(path, key, create=create)
    except Exception as exc:
        code = getattr(exc, "sqlite_errorname", "")
        if code == "SQLITE_NOTADB" and not key_verified:
            raise DatabaseUnreadableError(
                f"The database {path} cannot be opened with this key: the key is wrong "
                "or the file is not an ATOM Desktop database.",
                hint="Use the key the database was created with (ATOM_ENCRYPTION_KEY or the "
                "OS keyring). The file was left untouched.",
            ) from None
        if code in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise DatabaseCorruptError(
                f"The database {path} is damaged: its key is right but its first page "
                f"cannot be read ({exc}).",
                hint=f"The file was kept as it is. Restore it from a backup. {START_FRESH}",
            ) from None
        raise StoreError(f"The database {path} cannot be opened: {exc}.") from None


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    """Turn damaged-page errors from SQLite into a DatabaseCorruptError."""
    try:
        yield
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlite_errorname", "")
        if code in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            raise DatabaseCorruptError(
                f"The database {path} is damaged ({exc.orig}).",
                hint="The file was kept as it is. Restore it from a backup.",
            ) from None
        raise
