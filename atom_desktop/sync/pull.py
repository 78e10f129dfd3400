"""Reading the server's changes after this device's cursor, page by page, in one snapshot.

All pages of one pull are read in one ``REPEATABLE READ`` transaction, so
the tables agree with each other. The server's trigger makes one tenant's
changes commit in ``change_id`` order (schema.py), so a snapshot that holds
change N holds every earlier change of the tenant: moving the cursor to the
highest ``change_id`` read never skips one committed later.

A page reads up to ``page_size`` rows of each table after the cursor. When a
table filled its page, rows beyond its last ``change_id`` may be missing
from the others' pages too; the page therefore ends at the smallest last
``change_id`` of the tables that filled theirs, and the rest comes in the
next page. Run summaries go one way (devices push them, the web app reads
them), so a pull reads tasks and automations only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from atom_desktop.store.replica import RemoteRow

#: Server table -> outbox entity, for the tables a device pulls.
PULLED = {"tasks": "task", "automations": "automation"}

_PAGE = sql.SQL(
    "SELECT id, data, hlc, device_id, deleted, change_id FROM atom_sync.{table} "
    "WHERE change_id > %s ORDER BY change_id LIMIT %s"
)


@dataclass(frozen=True, slots=True)
class Page:
    """Rows read after a cursor, in change order, and the cursor they bring the device to."""

    rows: list[RemoteRow]
    cursor: int
    #: Whether more rows may follow in this snapshot.
    more: bool


def read_page(cur: psycopg.Cursor[Any], after: int, page_size: int) -> Page:
    """One page of changes after ``after`` (the snapshot is the caller's transaction)."""
    rows: list[RemoteRow] = []
    full_ends: list[int] = []
    for table, entity in PULLED.items():
        cur.execute(_PAGE.format(table=sql.Identifier(table)), (after, page_size))
        fetched = cur.fetchall()
        rows.extend(RemoteRow(entity, r[0], r[1] or {}, r[2], r[3], r[4], r[5]) for r in fetched)
        if len(fetched) == page_size:
            full_ends.append(fetched[-1][5])
    if full_ends:
        end = min(full_ends)
        rows = [r for r in rows if r.change_id <= end]
    else:
        end = max((r.change_id for r in rows), default=after)
    rows.sort(key=lambda r: r.change_id)
    return Page(rows, end, bool(full_ends))


def read_pages(
    conn: psycopg.Connection[Any],
    after: int,
    page_size: int,
    check: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> Iterator[Page]:
    """Pages after ``after`` until none is left, all from one snapshot.

    The transaction stays open while the caller applies each page; it is
    read-only, so abandoning it midway (an error, a crash) loses nothing:
    the local cursor moves only with the rows of a page. ``check(conn)``, if
    given, runs first in that transaction (the schema version check).
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if check is not None:
            check(conn)
        while True:
            page = read_page(cur, after, page_size)
            if page.rows or page.cursor != after:
                yield page
            if not page.more:
                return
            after = page.cursor
