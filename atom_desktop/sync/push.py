"""Sending a batch of outbox entries to the server: one transaction of idempotent upserts.

Each synced table gets one ``INSERT .. SELECT FROM unnest(..) ON CONFLICT
(tenant_id, id) DO UPDATE .. WHERE`` the incoming ``(hlc, device_id)`` is
greater than the stored one: the server keeps the newest version of each
row whatever order versions arrive in, and sending a batch again (after a
crash between the server's commit and the outbox's cleanup) finds every
version already there and changes nothing, not even a ``change_id``. A
delete is a tombstone (``deleted``, empty ``data``).

Within a batch only the newest entry of each row is sent: an upsert may not
touch one row twice, and the older entries would lose to it anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from atom_desktop.core.redaction import Redactor
from atom_desktop.store.outbox import OutboxEntry
from atom_desktop.store.replica import LostChange
from atom_desktop.sync.secrets import public_automation

#: Outbox entity -> server table.
TABLES = {"task": "tasks", "automation": "automations", "run": "run_summaries"}

_PAYLOAD_UPSERT = sql.SQL(
    "INSERT INTO atom_sync.{table} AS cur (id, data, hlc, device_id, deleted) "
    "SELECT id, data::jsonb, hlc, %(device)s, deleted "
    "FROM unnest(%(ids)s::text[], %(data)s::text[], %(hlcs)s::bigint[], %(deleted)s::bool[]) "
    "AS v(id, data, hlc, deleted) "
    "ON CONFLICT (tenant_id, id) DO UPDATE SET data = EXCLUDED.data, hlc = EXCLUDED.hlc, "
    "device_id = EXCLUDED.device_id, deleted = EXCLUDED.deleted "
    "WHERE (EXCLUDED.hlc, EXCLUDED.device_id) > (cur.hlc, cur.device_id) "
    "RETURNING id"
)
_RUN_UPSERT = sql.SQL(
    "INSERT INTO atom_sync.run_summaries AS cur "
    "(id, command, status, exit_code, started_at, ended_at, hlc, device_id) "
    "SELECT id, command, status, exit_code, started_at::timestamptz, ended_at::timestamptz, "
    "hlc, %(device)s "
    "FROM unnest(%(ids)s::text[], %(commands)s::text[], %(statuses)s::text[], "
    "%(exit_codes)s::int[], %(started)s::text[], %(ended)s::text[], %(hlcs)s::bigint[]) "
    "AS v(id, command, status, exit_code, started_at, ended_at, hlc) "
    "ON CONFLICT (tenant_id, id) DO UPDATE SET command = EXCLUDED.command, "
    "status = EXCLUDED.status, exit_code = EXCLUDED.exit_code, "
    "started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, hlc = EXCLUDED.hlc, "
    "device_id = EXCLUDED.device_id "
    "WHERE (EXCLUDED.hlc, EXCLUDED.device_id) > (cur.hlc, cur.device_id) "
    "RETURNING id"
)
_CURRENT = sql.SQL("SELECT id, hlc, device_id FROM atom_sync.{table} WHERE id = ANY(%s::text[])")


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the server did with one batch."""

    #: Rows whose version the server took.
    applied: int
    #: Local changes the server kept another device's newer version over.
    lost: list[LostChange]


def newest_per_row(entries: Sequence[OutboxEntry]) -> list[OutboxEntry]:
    """The last entry of each row in ``entries`` (outbox order), in outbox order."""
    newest: dict[tuple[str, str], OutboxEntry] = {}
    for entry in entries:
        newest[(entry.entity, entry.entity_id)] = entry
    return sorted(newest.values(), key=lambda e: e.seq)


def push_batch(
    conn: psycopg.Connection[Any],
    device_id: str,
    entries: Sequence[OutboxEntry],
    redactor: Redactor | None = None,
    check: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> BatchOutcome:
    """Upsert ``entries`` in one server transaction; committed when this returns.

    ``check(conn)``, if given, runs first in that transaction (the schema
    version check): it costs no commit of its own, and whatever it raises
    leaves the server unchanged.
    """
    masker = redactor or Redactor()
    by_table: dict[str, list[OutboxEntry]] = {}
    for entry in newest_per_row(entries):
        table = TABLES.get(entry.entity)
        if table is not None:  # an entity this version does not sync stays local
            by_table.setdefault(table, []).append(entry)
    applied = 0
    lost: list[LostChange] = []
    with conn.transaction(), conn.cursor() as cur:
        if check is not None:
            check(conn)
        for table, rows in by_table.items():
            if table == "run_summaries":
                cur.execute(_RUN_UPSERT, _run_params(device_id, rows, masker))
            else:
                cur.execute(
                    _PAYLOAD_UPSERT.format(table=sql.Identifier(table)),
                    _payload_params(device_id, rows, masker),
                )
            taken = {row[0] for row in cur.fetchall()}
            applied += len(taken)
            refused = [entry for entry in rows if entry.entity_id not in taken]
            if refused:
                lost.extend(_lost(cur, table, device_id, refused))
    return BatchOutcome(applied, lost)


def _lost(
    cur: psycopg.Cursor[Any], table: str, device_id: str, refused: Sequence[OutboxEntry]
) -> list[LostChange]:
    """Which refused entries lost to another device (the rest were there already)."""
    cur.execute(_CURRENT.format(table=sql.Identifier(table)), ([e.entity_id for e in refused],))
    current = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
    lost = []
    for entry in refused:
        hlc, holder = current[entry.entity_id]
        # Our own version (this one sent again, or a newer one of ours) is no conflict.
        if holder != device_id:
            lost.append(LostChange(entry, hlc, holder))
    return lost


def _payload_params(
    device_id: str, rows: Sequence[OutboxEntry], redactor: Redactor
) -> dict[str, Any]:
    data = []
    for entry in rows:
        if entry.op == "delete":
            data.append("{}")
        elif entry.entity == "automation":
            data.append(json.dumps(public_automation(entry.payload, redactor)))
        else:
            data.append(json.dumps(entry.payload))
    return {
        "device": device_id,
        "ids": [e.entity_id for e in rows],
        "data": data,
        "hlcs": [e.hlc for e in rows],
        "deleted": [e.op == "delete" for e in rows],
    }


def _run_params(device_id: str, rows: Sequence[OutboxEntry], redactor: Redactor) -> dict[str, Any]:
    def text(entry: OutboxEntry, key: str) -> str:
        value = entry.payload.get(key)
        return value if isinstance(value, str) else ""

    return {
        "device": device_id,
        "ids": [e.entity_id for e in rows],
        # A command line may carry a secret (a token in an argument): masked.
        "commands": [redactor.redact(text(e, "command")) for e in rows],
        "statuses": [text(e, "status") for e in rows],
        "exit_codes": [e.payload.get("exit_code") for e in rows],
        "started": [e.payload.get("started_at") for e in rows],
        "ended": [e.payload.get("ended_at") for e in rows],
        "hlcs": [e.hlc for e in rows],
    }
