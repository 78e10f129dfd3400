"""The device's side of sync: pending changes, pulled changes, the conflict inbox.

The sync engine talks to the server; everything it reads or writes here is
one local transaction each:

- :meth:`SyncReplica.acknowledge` removes pushed outbox entries after the
  server has committed them, and files the local changes the server refused
  as older than another device's version.
- :meth:`SyncReplica.apply` writes a page of pulled rows together with the
  new pull cursor, without any outbox entry (a pulled change is never pushed
  back), by the same rule the server applies: the version with the greater
  ``(hlc, device_id)`` wins. A pending local change that loses goes to the
  conflict inbox, and its outbox entries go with it.

Versions are compared with ``sync_versions``, which every local change
writes in its own transaction (store/outbox.py), tombstones included.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import chain, groupby
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Result, bindparam, delete, func, select, update
from sqlalchemy.orm import QueryableAttribute, Session

from atom_desktop.core.hlc import unpack
from atom_desktop.store.automations import automation_payload
from atom_desktop.store.database import Database
from atom_desktop.store.errors import StoreError
from atom_desktop.store.models import (
    TASK_STATUSES,
    AutomationRow,
    OutboxRow,
    SyncConflictRow,
    SyncStateRow,
    SyncVersionRow,
    TaskRow,
)
from atom_desktop.store.outbox import OutboxEntry, pending_entries
from atom_desktop.store.sync_state import TWO_WAY

#: Why a version is in the conflict inbox.
LOST = "lost"  # a local change that a newer version from another device overwrote
REJECTED = "rejected"  # a pulled version this device cannot store (see RejectedRemoteError)

#: Merges a pulled automation payload with the local one (or None): sync's
#: way of keeping this device's secrets, which never leave it.
Merge = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


class RejectedRemoteError(StoreError):
    """A pulled version that cannot be stored here (unreadable, or clashing with a local row)."""


class RemoteRow(NamedTuple):
    """A version of a row as the server holds it.

    A named tuple: a pull makes one per row it reads, and a tuple is made
    for a fraction of a frozen dataclass's cost.
    """

    entity: str
    entity_id: str
    data: dict[str, Any]
    hlc: int
    device_id: str
    deleted: bool
    change_id: int


@dataclass(frozen=True, slots=True)
class LostChange:
    """A pushed change the server kept an other device's newer version over."""

    entry: OutboxEntry
    winner_hlc: int
    winner_device_id: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """A version in the conflict inbox: the change that lost and what it lost to."""

    id: int
    entity: str
    entity_id: str
    op: str
    payload: dict[str, Any]
    hlc: int
    winner_hlc: int
    winner_device_id: str
    reason: str
    detected_at: datetime


@dataclass(slots=True)
class ApplyResult:
    """What a page of pulled rows did here."""

    #: ``(entity, id, op)`` of each row written, op one of created/updated/deleted.
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    #: Rows whose version here was as new or newer (our own echoes among them).
    skipped: int = 0
    #: Versions filed in the conflict inbox (local losers and rejected remote rows).
    conflicts: int = 0


class SyncReplica:
    """The local database as sync sees it. Blocking: call it from a worker thread."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._db = db
        self._clock = clock

    # -- state --------------------------------------------------------------------

    def device_id(self) -> str:
        """This device's id (made once by the migration)."""
        with self._db.read() as session:
            return self._db.change_clock(session).device_id

    def cursor(self) -> int:
        """The last server change_id applied here."""
        with self._db.read() as session:
            return session.scalar(select(SyncStateRow.pull_cursor)) or 0

    # -- push ---------------------------------------------------------------------

    def pending(self, limit: int, after: int = 0) -> list[OutboxEntry]:
        """The oldest ``limit`` outbox entries after ``after``."""
        with self._db.read() as session:
            return pending_entries(session, limit, after)

    def acknowledge(self, sent: Sequence[OutboxEntry], lost: Sequence[LostChange]) -> None:
        """After the server's commit: drop ``sent``, file ``lost`` changes, move the clock."""
        now = self._clock()
        with self._db.write() as session:
            for change in lost:
                _file(session, change.entry, (change.winner_hlc, change.winner_device_id), now)
            seqs = [entry.seq for entry in sent]
            for start in range(0, len(seqs), 500):
                session.execute(
                    delete(OutboxRow).where(OutboxRow.seq.in_(seqs[start : start + 500]))
                )
            if lost:
                clock = self._db.change_clock(session)
                clock.clock.observe(max(change.winner_hlc for change in lost))
                clock.save(session)

    # -- pull ---------------------------------------------------------------------

    def apply(self, rows: Sequence[RemoteRow], cursor: int, merge: Merge) -> ApplyResult:
        """Write pulled ``rows`` (in change order) and the new ``cursor`` in one transaction.

        What the page's rows meet here (their versions, pending local
        changes, the tasks they touch) is read in a few queries up front;
        each row is then decided in Python in change order, as if written
        one by one, and the winners are written a statement per table and
        kind of write. A task that meets nothing (no version, change, task
        or external id here, and no other row of the page naming it or its
        external id: most of a first pull) is decided with no bookkeeping:
        it is new, nothing else in the page can change that, and its write
        clashes with none of the others.
        """
        result = ApplyResult()
        now = self._clock()
        with self._db.write() as session:
            clock = self._db.change_clock(session)
            if rows:
                # Observing the greatest stamp is observing them all, once the
                # least is known to be one too (a stamp is checked by range).
                stamps = [row.hlc for row in rows]
                unpack(min(stamps))
                clock.clock.observe(max(stamps))
            synced = [row for row in rows if row.entity in TWO_WAY]
            decisions = _Decisions(session, _Local.read(session, synced), merge, now, result)
            decisions.take(synced)
            decisions.write()
            conn = session.connection()
            conn.execute(_MOVE_CURSOR, {"cursor": cursor})
            clock.save(session)
        return result

    # -- the conflict inbox -------------------------------------------------------

    def conflicts(self, limit: int = 100) -> list[Conflict]:
        """Unresolved conflicts, newest first."""
        with self._db.read() as session:
            rows = session.scalars(
                select(SyncConflictRow)
                .where(SyncConflictRow.resolved_at.is_(None))
                .order_by(SyncConflictRow.id.desc())
                .limit(max(1, min(limit, 1000)))
            )
            return [Conflict(**{n: getattr(r, n) for n in Conflict.__slots__}) for r in rows]

    def conflict_count(self) -> int:
        """How many conflicts wait to be looked at."""
        with self._db.read() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(SyncConflictRow)
                    .where(SyncConflictRow.resolved_at.is_(None))
                )
                or 0
            )


def _reject(session: Session, row: RemoteRow, why: str, now: datetime) -> None:
    """Keep a pulled version that cannot be stored here in the inbox; the local row stays."""
    # The remote version is kept whole, so nothing is lost.
    session.add(
        SyncConflictRow(
            entity=row.entity,
            entity_id=row.entity_id,
            op="delete" if row.deleted else "upsert",
            payload={"data": row.data, "device_id": row.device_id, "why": why},
            hlc=row.hlc,
            winner_hlc=row.hlc,
            winner_device_id=row.device_id,
            reason=REJECTED,
            detected_at=now,
        )
    )


#: The row of ``sync_versions`` a pulled row leaves: entity, id, stamp, device, deleted.
_version: Callable[[RemoteRow], tuple[str, str, int, str, bool]] = attrgetter(
    "entity", "entity_id", "hlc", "device_id", "deleted"
)


def _file(session: Session, entry: OutboxEntry, winner: tuple[int, str], now: datetime) -> None:
    """Keep a local change that lost to ``winner`` (its stamp and device) in the inbox."""
    session.add(
        SyncConflictRow(
            entity=entry.entity,
            entity_id=entry.entity_id,
            op=entry.op,
            payload=entry.payload,
            hlc=entry.hlc,
            winner_hlc=winner[0],
            winner_device_id=winner[1],
            reason=LOST,
            detected_at=now,
        )
    )


#: A time as a device sends it, ``isoformat()`` of an aware UTC time: the
#: text stored for it is the same digits, a space for the ``T``, no offset.
#: (A fraction of six zeros is not isoformat's: it leaves the fraction out.)
_SENT_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.(?!0{6})[0-9]{6})?\+00:00"
).fullmatch


def _time(value: Any, name: str, *, optional: bool = False) -> str | None:
    """A time of a pulled payload as the tasks table stores it: naive UTC, ISO, a space."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise RejectedRemoteError(f"{name} is not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedRemoteError(f"{name} is not a time") from None
    if _SENT_UTC(value) is not None:
        # Parsed above only to know it is a real time; its text costs a
        # fraction of converting the parsed one back.
        return f"{value[:10]} {value[11:-6]}"
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    # What UtcDateTime and the driver make of the aware time, without the round trip.
    return parsed.isoformat(" ")


def _task_values(row: RemoteRow) -> tuple[Any, ...]:
    """The columns of a pulled task (:data:`_TASK_COLUMNS`), checked as the table would check them.

    The values are as they are bound (times as stored text, tags as JSON).
    """
    data = row.data
    title, notes, status = data.get("title"), data.get("notes", ""), data.get("status")
    priority, tags = data.get("priority", 0), data.get("tags", [])
    source, external_id = data.get("source", "local"), data.get("external_id")
    if not isinstance(title, str) or not isinstance(notes, str):
        raise RejectedRemoteError("title and notes must be text")
    if status not in TASK_STATUSES:
        raise RejectedRemoteError(f"unknown status {status!r}")
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 3:
        raise RejectedRemoteError(f"priority {priority!r} is not 0..3")
    if not isinstance(tags, list):
        raise RejectedRemoteError("tags must be a list of text")
    try:
        tags_json = _tags_json(tuple(tags)) if tags else "[]"
    except TypeError:  # an unhashable member: not text
        raise RejectedRemoteError("tags must be a list of text") from None
    if not isinstance(source, str) or not (external_id is None or isinstance(external_id, str)):
        raise RejectedRemoteError("source and external id must be text")
    return (
        row.entity_id,
        title,
        notes,
        status,
        priority,
        _time(data.get("due_at"), "due_at", optional=True),
        tags_json,
        source,
        external_id,
        _time(data.get("created_at"), "created_at"),
        _time(data.get("updated_at"), "updated_at"),
    )


@lru_cache(maxsize=1024)
def _tags_json(tags: tuple[Any, ...]) -> str:
    """Pulled tags as the tasks table stores them (JSON text), if they are all text.

    Kept per set of tags: a person's tasks share a few tags, and encoding
    them anew cost as much as the rest of a task's checks.
    """
    if not all(isinstance(tag, str) for tag in tags):
        raise RejectedRemoteError("tags must be a list of text")
    return json.dumps(list(tags))


def _write_automation(
    session: Session,
    row: RemoteRow,
    merge: Merge,
    now: datetime,
    held: dict[str, AutomationRow],
) -> str | None:
    """Store one winning automation version (``held``: the page's automations here)."""
    existing = held.get(row.entity_id)
    if row.deleted:
        if existing is None:
            return None
        session.delete(existing)
        session.flush()
        del held[row.entity_id]
        return "deleted"
    local = automation_payload(existing) if existing is not None else None
    data = merge(row.data, local)
    name, enabled, spec = data.get("name"), data.get("enabled"), data.get("spec")
    if not isinstance(name, str) or not isinstance(enabled, bool) or not isinstance(spec, dict):
        raise RejectedRemoteError("an automation needs a name, enabled and a spec")
    if existing is None:
        # Its schedule counts from its arrival here, as for one made here.
        held[row.entity_id] = AutomationRow(
            id=row.entity_id,
            name=name,
            enabled=enabled,
            spec=spec,
            anchor_at=now,
            checked_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(held[row.entity_id])
        session.flush()
        return "created"
    existing.name, existing.enabled, existing.spec = name, enabled, spec
    existing.anchor_at = existing.checked_at = existing.updated_at = now
    session.flush()
    return "updated"


def _among(column: QueryableAttribute[Any]) -> ColumnElement[bool]:
    """``column IN`` the ids bound as ``ids``, one JSON array: one statement, however many."""
    listed = func.json_each(bindparam("ids")).table_valued("value")
    return column.in_(select(listed.c.value))


def _ids(values: Iterable[str]) -> str:
    """The value of :func:`_among`'s ``ids``."""
    return json.dumps(list(values))


# Built once: a page of a few rows (the usual pull after a NOTIFY) then costs
# little more than its statements' execution.
_VERSIONS_OF = select(SyncVersionRow.entity_id, SyncVersionRow.hlc, SyncVersionRow.device_id).where(
    SyncVersionRow.entity == bindparam("entity"), _among(SyncVersionRow.entity_id)
)
_PENDING_OF = (
    select(
        OutboxRow.seq,
        OutboxRow.entity,
        OutboxRow.entity_id,
        OutboxRow.op,
        OutboxRow.payload,
        OutboxRow.created_at,
        OutboxRow.hlc,
    )
    .where(OutboxRow.entity == bindparam("entity"), _among(OutboxRow.entity_id))
    .order_by(OutboxRow.seq)
)
_TASK_KEYS = select(TaskRow.id, TaskRow.source, TaskRow.external_id)
_TASKS_NAMED = _TASK_KEYS.where(_among(TaskRow.id))
# By source, then external id: the order of the unique index.
_TASKS_HOLDING = _TASK_KEYS.where(
    TaskRow.source == bindparam("source"), _among(TaskRow.external_id)
)
_AUTOMATIONS_NAMED = select(AutomationRow).where(_among(AutomationRow.id))
_DROP_PENDING = delete(OutboxRow).where(
    OutboxRow.entity == bindparam("entity"), _among(OutboxRow.entity_id)
)
_DROP_TASKS = delete(TaskRow).where(_among(TaskRow.id))
_VERSION_UPSERT = (
    f"INSERT INTO {SyncVersionRow.__tablename__} (entity, entity_id, hlc, device_id, deleted) "  # noqa: S608
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity, entity_id) DO UPDATE "
    "SET hlc = excluded.hlc, device_id = excluded.device_id, deleted = excluded.deleted"
)
_MOVE_CURSOR = (
    update(SyncStateRow)
    .where(SyncStateRow.id == 1, SyncStateRow.pull_cursor < bindparam("cursor"))
    .values(pull_cursor=bindparam("cursor"))
)


#: A task's unique pair (source, external id); local tasks have no external id.
TaskKey = tuple[str, str | None]


@dataclass(slots=True)
class _Local:
    """What this device holds of a page's rows, read before any of them is written."""

    #: ``(entity, id)`` -> the version held here (stamp, device).
    versions: dict[tuple[str, str], tuple[int, str]]
    #: ``(entity, id)`` -> the newest pending local change of the row.
    pending: dict[tuple[str, str], OutboxEntry]
    #: Task id -> its key, for the tasks here that the page names or may clash with.
    task_keys: dict[str, TaskKey]
    #: Task key -> the task here that has it (for the page's external ids).
    key_holders: dict[TaskKey, str]
    #: The automations here that the page names (loaded into the session).
    automations: dict[str, AutomationRow]
    #: Ids of the page's tasks that meet nothing: no version, pending change
    #: or task here, no task here with its external id, and no other row of
    #: the page with the same id or external id.
    fresh: set[str]

    @classmethod
    def read(cls, session: Session, rows: Sequence[RemoteRow]) -> _Local:
        """A few queries for the whole page, whatever its size."""
        ids: dict[str, list[str]] = {}
        for row in rows:
            ids.setdefault(row.entity, []).append(row.entity_id)
        local = cls({}, {}, {}, {}, {}, set())
        conn = session.connection()
        listed = {entity: _ids(entity_ids) for entity, entity_ids in ids.items()}
        for entity, entity_ids in listed.items():
            named = {"entity": entity, "ids": entity_ids}
            local.versions.update(
                ((entity, entity_id), (hlc, device_id))
                for entity_id, hlc, device_id in conn.execute(_VERSIONS_OF, named)
            )
            # In sequence order: the newest entry of a row is the one kept.
            local.pending.update(
                ((entity, r.entity_id), OutboxEntry(*r)) for r in conn.execute(_PENDING_OF, named)
            )
        if "task" in ids:
            local._hold_tasks(conn.execute(_TASKS_NAMED, {"ids": listed["task"]}))
        # Only a task from elsewhere (an external id) can clash: the tasks here
        # holding one of the page's pairs.
        external: dict[str, set[str]] = {}
        keyed: dict[TaskKey, str] = {}  # a pair -> the first of the page's tasks with it
        shared: set[str] = set()  # the page's tasks whose pair another of them has too
        for row in rows:
            if row.entity == "task" and not row.deleted:
                source, ext = row.data.get("source", "local"), row.data.get("external_id")
                if isinstance(source, str) and isinstance(ext, str):
                    external.setdefault(source, set()).add(ext)
                    first = keyed.setdefault((source, ext), row.entity_id)
                    if first != row.entity_id:
                        shared.update((first, row.entity_id))
        for source, exts in external.items():
            held = conn.execute(_TASKS_HOLDING, {"source": source, "ids": _ids(sorted(exts))})
            local._hold_tasks(held)
        if "task" in ids:
            local.fresh = local._fresh_tasks(ids["task"], keyed, shared)
        if "automation" in ids:
            local.automations.update(
                (automation.id, automation)
                for automation in session.scalars(
                    _AUTOMATIONS_NAMED, {"ids": _ids(ids["automation"])}
                )
            )
        return local

    def _fresh_tasks(
        self, task_ids: list[str], keyed: dict[TaskKey, str], shared: set[str]
    ) -> set[str]:
        """Which of the page's ``task_ids`` meet nothing (:attr:`fresh`), all else being read."""
        fresh = set(task_ids)
        if len(fresh) < len(task_ids):  # some task has several versions in the page
            fresh.difference_update(i for i, n in Counter(task_ids).items() if n > 1)
        fresh.difference_update(self.task_keys)
        fresh.difference_update(shared)
        fresh.difference_update(keyed[key] for key in self.key_holders.keys() & keyed.keys())
        for entity, entity_id in chain(self.versions, self.pending):
            if entity == "task":
                fresh.discard(entity_id)
        return fresh

    def _hold_tasks(self, tasks: Result[str, str, str | None]) -> None:
        for task_id, source, external_id in tasks:
            self.task_keys[task_id] = (source, external_id)
            if external_id is not None:
                self.key_holders[(source, external_id)] = task_id


class _Decisions:
    """A page's rows decided one by one in change order; their writes kept for the end."""

    def __init__(
        self, session: Session, local: _Local, merge: Merge, now: datetime, result: ApplyResult
    ) -> None:
        self._session = session
        self._local = local
        self._merge = merge
        self._now = now
        self._result = result
        self._tasks = _TaskWrites(local.task_keys, local.key_holders)
        self._versions: list[tuple[str, str, int, str, bool]] = []
        #: Entity -> ids whose pending local changes lost.
        self._losers: dict[str, list[str]] = {}

    def take(self, rows: Iterable[RemoteRow]) -> None:
        """Decide ``rows``, in their order."""
        fresh, result = self._local.fresh, self._result
        for row in rows:
            if row.entity_id not in fresh or row.entity != "task":
                self._take(row)
            elif row.deleted:  # a tombstone of a task never here: only its version
                self._versions.append(_version(row))
            else:
                try:
                    self._tasks.create(_task_values(row))
                except RejectedRemoteError as exc:
                    _reject(self._session, row, str(exc), self._now)
                    result.conflicts += 1
                    continue
                self._versions.append(_version(row))
                result.changed.append(("task", row.entity_id, "created"))

    def write(self) -> None:
        """Write what the rows decided: tasks, losing changes dropped, versions."""
        self._tasks.flush(self._session)
        conn = self._session.connection()
        for entity, ids in self._losers.items():
            conn.execute(_DROP_PENDING, {"entity": entity, "ids": _ids(ids)})
        if self._versions:
            # The driver's own executemany: SQLAlchemy's binding of each
            # row's parameters cost more than the insert itself.
            conn.exec_driver_sql(_VERSION_UPSERT, self._versions)

    def _take(self, row: RemoteRow) -> None:
        """A row that may meet something here or in the page."""
        local, result, now = self._local, self._result, self._now
        key = (row.entity, row.entity_id)
        held = local.versions.get(key)
        if held is not None and (row.hlc, row.device_id) <= held:
            result.skipped += 1
            return
        try:
            if row.entity == "task":
                op = self._tasks.write(row)
            else:
                op = _write_automation(self._session, row, self._merge, now, local.automations)
        except RejectedRemoteError as exc:
            _reject(self._session, row, str(exc), now)
            result.conflicts += 1
            return
        pending = local.pending.pop(key, None)
        if pending is not None:
            # The remote version is newer than a change not pushed yet:
            # that change lost. It is kept in the inbox, and not sent.
            _file(self._session, pending, (row.hlc, row.device_id), now)
            self._losers.setdefault(row.entity, []).append(row.entity_id)
            result.conflicts += 1
        local.versions[key] = (row.hlc, row.device_id)
        self._versions.append(_version(row))
        if op is not None:
            result.changed.append((row.entity, row.entity_id, op))


#: The columns :func:`_task_values` gives, in its order: every column of tasks.
_TASK_COLUMNS = (
    "id",
    "title",
    "notes",
    "status",
    "priority",
    "due_at",
    "tags",
    "source",
    "external_id",
    "created_at",
    "updated_at",
)
#: Where :func:`_task_values` puts a task's source and external id.
_SOURCE, _EXTERNAL_ID = _TASK_COLUMNS.index("source"), _TASK_COLUMNS.index("external_id")
#: Tasks per statement. The FTS5 index of tasks is kept by triggers, and
#: FTS5 writes its pending terms out at each statement that fires them: a
#: statement per row cost about 100 us a row in the triggers alone (measured
#: on this schema), one statement per 200 rows shares that among them.
_TASKS_PER_STATEMENT = 200


@cache
def _task_upsert(rows: int) -> str:
    """A multi-row ``INSERT .. ON CONFLICT (id) DO UPDATE`` of ``rows`` whole tasks."""
    names = _TASK_COLUMNS
    one = f"({', '.join('?' * len(names))})"
    values = ", ".join([one] * rows)
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != "id")
    # Only names from the model go into the text; the values are bound.
    return (
        f"INSERT INTO {TaskRow.__tablename__} ({', '.join(names)}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


class _TaskWrites:
    """Winning task versions, decided one by one and written together.

    It keeps which tasks exist here and who holds each external id as the
    page's writes so far leave them, so each row is judged (created or
    updated, clashing or not) exactly as if the ones before it had been
    written. The writes keep their order (runs of upserts and of deletes),
    so the unique (source, external id) index holds after each statement.
    """

    def __init__(self, keys: dict[str, TaskKey], holders: dict[TaskKey, str]) -> None:
        self._keys = keys
        self._holders = holders
        self._writes: list[tuple[bool, Any]] = []  # (is a delete, id or column values)

    def write(self, row: RemoteRow) -> str | None:
        """Take one winning version; the op it amounts to (None: nothing here changes)."""
        if row.deleted:
            if row.entity_id not in self._keys:
                return None
            self._release(row.entity_id)
            del self._keys[row.entity_id]
            self._writes.append((True, row.entity_id))
            return "deleted"
        values = _task_values(row)
        key = (values[_SOURCE], values[_EXTERNAL_ID])
        holder = None if key[1] is None else self._holders.get(key)
        if holder is not None and holder != row.entity_id:
            raise RejectedRemoteError(
                f"task {holder} here already has source {key[0]!r} and external id {key[1]!r}"
            )
        existed = row.entity_id in self._keys
        if existed:
            self._release(row.entity_id)
        self._keys[row.entity_id] = key
        if key[1] is not None:
            self._holders[key] = row.entity_id
        self._writes.append((False, values))
        return "updated" if existed else "created"

    def create(self, values: tuple[Any, ...]) -> None:
        """Take a task that is new here and that no other row of the page names or clashes with.

        Nothing is kept of it: no later row of the page can ask.
        """
        self._writes.append((False, values))

    def flush(self, session: Session) -> None:
        """Write what was taken, in order: multi-row upserts and ``DELETE .. IN``."""
        conn = session.connection()
        for is_delete, run in groupby(self._writes, key=itemgetter(0)):
            items = [item for _, item in run]
            if is_delete:
                conn.execute(_DROP_TASKS, {"ids": _ids(items)})
                continue
            for start in range(0, len(items), _TASKS_PER_STATEMENT):
                chunk = items[start : start + _TASKS_PER_STATEMENT]
                params = tuple(chain.from_iterable(chunk))
                conn.exec_driver_sql(_task_upsert(len(chunk)), params)
        self._writes.clear()

    def _release(self, task_id: str) -> None:
        key = self._keys[task_id]
        if key[1] is not None and self._holders.get(key) == task_id:
            del self._holders[key]
