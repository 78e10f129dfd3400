"""Sync benchmark: the engine against the plainest way to move the same rows.

Starts a throwaway PostgreSQL 15 (as the sync tests do), applies the server
schema and makes three device roles of one tenant, then in one run:

- **push**: device A's store holds ``--tasks`` new tasks (their outbox
  entries written with them). ``SyncEngine.push_once`` sends them all; the
  baseline is device C, of another tenant, inserting the same rows (JSON,
  clock) under new ids into the same table, through the same trigger and
  row-level security, with psycopg's ``executemany`` in one transaction.
- **pull**: device B, with an empty store, pulls them all with
  ``SyncEngine.pull_once``; the baseline is B reading the same rows with one
  ``SELECT`` (and parsing their JSON, as any client must).

Each prints rows per second and the ratio to its baseline; the baseline is
measured right before and right after the engine, and their mean is used, so
a change in the machine's load hits both sides. The change latency through
NOTIFY needs the agent's sync service and is measured once that lands.

    .venv/bin/python -m bench.sync [--tasks 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.sync.engine import SyncEngine
from atom_desktop.sync.server.connection import parse_address
from atom_desktop.sync.server.migrator import init_server
from atom_desktop.sync.server.users import add_user
from tests.support.postgres import PostgresServer, running_postgres

TENANT = "bench"
BASELINE_INSERT = (
    "INSERT INTO atom_sync.tasks (id, data, hlc, device_id, deleted) "
    "VALUES (%s, %s::jsonb, %s, %s, false)"
)


class Device:
    """A login role of the bench tenant, and how to reach the server as it."""

    def __init__(self, server: PostgresServer, database: str, name: str, tenant: str) -> None:
        self.role = f"bench_{name}_{uuid.uuid4().hex[:6]}"
        self.password = uuid.uuid4().hex
        admin = parse_address(server.admin_url(database))
        add_user(admin, tenant=tenant, role=self.role, password=self.password)
        self.url = server.tcp_url(self.role, database)

    def engine(self, db: Database) -> SyncEngine:
        """A sync engine of this device over ``db``."""
        return SyncEngine(db, parse_address(f"{self.url}?password={self.password}"))

    def connect(self) -> psycopg.Connection[Any]:
        """A session of this role."""
        return psycopg.connect(self.url, password=self.password)


def timed(step: Callable[[], object]) -> float:
    """Seconds ``step`` took."""
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def fill(tasks: TaskRepository, count: int) -> None:
    """``count`` new tasks, a thousand per transaction."""
    for start in range(0, count, 1000):
        tasks.create_many(
            TaskCreate(title=f"task {n}", notes="x" * 40, tags=["bench"])
            for n in range(start, min(start + 1000, count))
        )


def server_rows(device: Device) -> list[tuple[str, str, int]]:
    """Every task row on the server as ``device`` sees it: id, JSON text, clock."""
    with device.connect() as conn:
        return [
            (row_id, json.dumps(data), hlc)
            for row_id, data, hlc in conn.execute("SELECT id, data, hlc FROM atom_sync.tasks")
        ]


def baseline_push(device: Device, rows: list[tuple[str, str, int]], device_id: str) -> float:
    """Seconds to insert ``rows`` (under new ids) with executemany in one transaction."""
    fresh = [(str(uuid.uuid4()), data, hlc, device_id) for _, data, hlc in rows]
    with device.connect() as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany(BASELINE_INSERT, fresh)
        conn.commit()
        spent = time.perf_counter() - started
        # Gone again, so the next measurement meets the same table.
        conn.execute(
            "UPDATE atom_sync.tasks SET deleted = true WHERE id = ANY(%s)",
            ([row[0] for row in fresh],),
        )
        conn.commit()
    return spent


def baseline_pull(device: Device) -> float:
    """Seconds to read every live task row with one SELECT and parse its JSON."""
    with device.connect() as conn:
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT id, data, hlc, device_id, change_id FROM atom_sync.tasks WHERE NOT deleted"
        ).fetchall()
        # psycopg parses jsonb already; touching each keeps the work honest.
        titles = sum(1 for row in rows if row[1].get("title"))
        assert titles == len(rows)
        return time.perf_counter() - started


def run(count: int) -> None:
    """Push and pull ``count`` tasks through the engine and their baselines."""
    with running_postgres() as server, tempfile.TemporaryDirectory() as scratch:
        database = "bench"
        with psycopg.connect(server.admin_url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
        init_server(parse_address(server.admin_url(database)))
        a, b = (Device(server, database, name, TENANT) for name in ("a", "b"))
        # Another tenant: its rows go through the same table, trigger and
        # policies, and B never sees them.
        c = Device(server, database, "c", TENANT + "-baseline")

        store_a = Database.open(Path(scratch) / "a.db", os.urandom(32))
        store_b = Database.open(Path(scratch) / "b.db", os.urandom(32))
        engine_a, engine_b = a.engine(store_a), b.engine(store_b)
        try:
            fill(TaskRepository(store_a, IdFactory()), count)
            pending = engine_a.replica.pending(count + 1, 0)
            assert len(pending) == count, len(pending)
            # The same rows, as the baseline sends them: the payloads the engine sends.
            payloads = [(e.entity_id, json.dumps(e.payload), e.hlc) for e in pending]
            device_id = "bench-baseline"

            before = baseline_push(c, payloads, device_id)
            pushed = timed(engine_a.push_once)
            after = baseline_push(c, payloads, device_id)
            push_base = (before + after) / 2
            assert engine_a.replica.pending(1, 0) == []
            assert len(server_rows(a)) == count

            before = baseline_pull(b)
            pulled = timed(engine_b.pull_once)
            after = baseline_pull(b)
            pull_base = (before + after) / 2
            got = TaskRepository(store_b, IdFactory()).count()
            assert got == count, got
        finally:
            engine_a.close()
            engine_b.close()
            store_a.close()
            store_b.close()

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {count:,} tasks, PostgreSQL 15 on loopback\n"
    )
    print("| step | engine rows/s | baseline rows/s | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for name, spent, base, target in (
        ("push (engine vs executemany)", pushed, push_base, 0.5),
        ("initial pull (engine vs one SELECT)", pulled, pull_base, 0.3),
    ):
        ratio = base / spent
        verdict = "met" if ratio >= target else "missed"
        print(
            f"| {name} | {count / spent:,.0f} | {count / base:,.0f} | {ratio:.2f}x "
            f"| >= {target}x: {verdict} |"
        )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    run(args.tasks)


if __name__ == "__main__":
    main()
