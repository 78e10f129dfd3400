"""Which failures a full disk caused, from real ones: /dev/full and SQLite's page limit."""

from __future__ import annotations

import errno
import sqlite3
import sys
from pathlib import Path

import pytest

from atom_desktop.core.errors import AtomError
from atom_desktop.diagnostics.disk_full import caused_by_full_disk

DEV_FULL = Path("/dev/full")
# Linux always has /dev/full; macOS and Windows, whose CI jobs run these unit
# tests too, have none.
needs_dev_full = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/dev/full is Linux's"
)


def _write_to_full_disk() -> OSError:
    try:
        # /dev/full answers every write with ENOSPC, as a full disk does.
        with DEV_FULL.open("wb", buffering=0) as full:
            full.write(b"x")
    except OSError as exc:
        return exc
    raise AssertionError("/dev/full took the write")


@needs_dev_full
def test_a_write_to_a_full_disk_and_what_was_raised_from_it() -> None:
    exc = _write_to_full_disk()
    assert exc.errno == errno.ENOSPC
    assert caused_by_full_disk(exc)
    try:
        try:
            raise exc
        except OSError as cause:
            raise AtomError("The task could not be saved.") from cause
    except AtomError as wrapped:
        assert caused_by_full_disk(wrapped)


def test_sqlite_saying_the_database_or_disk_is_full() -> None:
    db = sqlite3.connect(":memory:")
    try:
        db.execute("PRAGMA max_page_count = 2")
        db.execute("CREATE TABLE t (b BLOB)")
        with pytest.raises(sqlite3.OperationalError) as raised:
            db.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    finally:
        db.close()
    assert caused_by_full_disk(raised.value)


def test_other_failures_are_not_a_full_disk(tmp_path: Path) -> None:
    with pytest.raises(OSError) as missing:
        (tmp_path / "missing").read_bytes()
    assert not caused_by_full_disk(missing.value)
    assert not caused_by_full_disk(RuntimeError("disk"))
