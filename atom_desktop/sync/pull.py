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

:func:`reading_ahead` reads the pages in a thread of its own, a page or so
ahead of the caller applying them: the server's reply to the next page and
the local writes of this one then take the same time, not one after the
other. The connection is the reader's alone while it runs.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import psycopg
from psycopg import sql

from atom_desktop.store.replica import RemoteRow

#: Server table -> outbox entity, for the tables a device pulls.
PULLED = {"tasks": "task", "automations": "automation"}

# The payload comes as the server's text of it, parsed here (see _payload).
_PAGE = sql.SQL(
    "SELECT id, data::text, hlc, device_id, deleted, change_id FROM atom_sync.{table} "
    "WHERE change_id > %s ORDER BY change_id LIMIT %s"
)
#: The server writes a jsonb as one JSON value with nothing around it, so the
#: decoder's scan alone reads it: json.loads (as psycopg's jsonb loader calls
#: it) also guesses the encoding of bytes and looks for text around the
#: value, which cost about as much again as the parse.
_scan = json.JSONDecoder().raw_decode
_by_change = attrgetter("change_id")


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
        rows += [
            RemoteRow(entity, row_id, _payload(data), hlc, device_id, deleted, change_id)
            for row_id, data, hlc, device_id, deleted, change_id in fetched
        ]
        if len(fetched) == page_size:
            full_ends.append(fetched[-1][5])
    if full_ends:
        end = min(full_ends)
        rows = [r for r in rows if r.change_id <= end]
    else:
        end = max((r.change_id for r in rows), default=after)
    rows.sort(key=_by_change)
    return Page(rows, end, bool(full_ends))


def _payload(text: str | None) -> dict[str, Any]:
    """A row's data from the server's text of its jsonb; none (or JSON null) is empty."""
    return (_scan(text)[0] if text is not None else None) or {}


def read_pages(
    conn: psycopg.Connection[Any],
    after: int,
    page_size: int,
    check: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> Generator[Page, None, None]:
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


@dataclass(frozen=True, slots=True)
class _Failed:
    """The reader's end by an exception, for the caller to raise."""

    error: BaseException


class _Handoff:
    """At most ``depth`` pages between the reader and the caller, and a way to stop the reader."""

    def __init__(self, depth: int) -> None:
        self._depth = depth
        self._items: deque[Page | _Failed | None] = deque()
        self._changed = threading.Condition()
        self._stopped = False

    def put(self, item: Page | _Failed | None) -> bool:
        """Hand ``item`` over once there is room; False if the caller has stopped."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopped or len(self._items) < self._depth)
            if self._stopped:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def get(self) -> Page | _Failed | None:
        """The next item, waiting for it."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._items))
            item = self._items.popleft()
            self._changed.notify_all()
            return item

    def stop(self) -> None:
        """No more items are wanted: a waiting ``put`` returns False, and so will the next."""
        with self._changed:
            self._stopped = True
            self._items.clear()
            self._changed.notify_all()


@contextmanager
def reading_ahead(
    conn: psycopg.Connection[Any],
    after: int,
    page_size: int,
    check: Callable[[psycopg.Connection[Any]], object] | None = None,
    depth: int = 1,
) -> Iterator[Iterator[Page]]:
    """:func:`read_pages` in a reader thread, up to ``depth`` pages ahead of the caller.

    The pages come in order, as :func:`read_pages` gives them; what it
    raises (a lost connection, the schema check) is raised to the caller,
    the same exception, where the next page would have come. Leaving the
    block, by the end or an exception, stops the reader and waits for it:
    its transaction is rolled back (it is read-only) and no thread is left.
    While the reader waits for the server, leaving waits for that reply.
    """
    handoff = _Handoff(depth)

    def read() -> None:
        try:
            with closing(read_pages(conn, after, page_size, check)) as pages:
                for page in pages:
                    if not handoff.put(page):
                        return
        except BaseException as exc:  # raised to the caller, in its thread
            handoff.put(_Failed(exc))
            return
        handoff.put(None)

    def received() -> Iterator[Page]:
        while (item := handoff.get()) is not None:
            if isinstance(item, _Failed):
                raise item.error
            yield item

    reader = threading.Thread(target=read, name="sync-pull-reader", daemon=True)
    reader.start()
    try:
        yield received()
    finally:
        handoff.stop()
        reader.join()
