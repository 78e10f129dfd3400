"""Sync benchmark: the engine against the plainest way to move the same rows.

Starts a throwaway PostgreSQL 15 (as the sync tests do), applies the server
schema and makes device roles, then in one run:

- **push**: device A's store holds ``--tasks`` new tasks (their outbox
  entries written with them). ``SyncEngine.push_once`` sends them all; the
  baseline is device C, of another tenant, inserting the same rows (JSON,
  clock) under new ids into the same table, through the same trigger and
  row-level security, with psycopg's ``executemany`` in one transaction.
- **pull**: device B, with an empty store, pulls them all with
  ``SyncEngine.pull_once``; the baseline is B reading the same rows with one
  ``SELECT`` (and parsing their JSON, as any client must). Printed with
  it, the floor of any pull into this store: the same rows (tasks and their
  versions, as B holds them after the pull) written into another empty
  encrypted store of the same schema, with statements as the engine's and a
  commit per page of the engine's, their values made beforehand: no server
  and no Python per row.
- **change latency**: two agents of another tenant, each the real runtime
  on its own thread with the sync service on (as the desktop app hosts it).
  A task made on A is timed from A's store announcing its commit to B's
  store announcing it (``TaskChanged`` on each agent's event bus): A's push,
  the server's NOTIFY, B's pull. ``--changes`` of them, one at a time
  (after a few not counted, which open the connections); the baseline is
  the NOTIFY hop alone, from one connection to another ``LISTEN``ing on the
  same server, as many times right before and right after, pooled.

Push and pull print rows per second and the ratio to their baseline; the
baseline is measured right before and right after the engine, and their
mean is used, so a change in the machine's load hits both sides. The
latency prints p50 and p99 of each and their ratio.

    .venv/bin/python -m bench.sync [--tasks 100000] [--changes 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import keyring.backends.fail
import psycopg
from psycopg import sql
from pydantic import SecretStr

from atom_desktop.agent_thread import AgentThread
from atom_desktop.config.settings import API_TOKEN_PREFIX, Settings
from atom_desktop.core.events import Event, EventBus, TaskChanged
from atom_desktop.core.ids import IdFactory
from atom_desktop.runtime import Runtime
from atom_desktop.store.database import Database
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.sync.engine import PAGE_SIZE, SyncEngine
from atom_desktop.sync.server.connection import parse_address
from atom_desktop.sync.server.migrator import init_server
from atom_desktop.sync.server.users import add_user
from tests.support.postgres import PostgresServer, running_postgres

TENANT = "bench"
BASELINE_INSERT = (
    "INSERT INTO atom_sync.tasks (id, data, hlc, device_id, deleted) "
    "VALUES (%s, %s::jsonb, %s, %s, false)"
)
#: Changes carried before the timed ones: they open the connections.
WARMUP = 10
#: Seconds between a change's arrival and the next change, so that each meets
#: agents at rest (A's pull of its own echo done), as a person's edits would.
PAUSE_S = 0.05
#: Seconds a change may take before the run is called broken.
LOST_S = 30.0


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

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A session of this role."""
        return psycopg.connect(self.url, password=self.password, **kwargs)


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


def store_floor(source: Database, scratch: Path, page: int) -> float:
    """Seconds to write ``source``'s tasks and versions into an empty store, ``page`` a commit."""
    with source.read() as session:
        conn = session.connection()
        task_result = conn.exec_driver_sql("SELECT * FROM tasks ORDER BY rowid")
        task_columns = list(task_result.keys())
        tasks = [tuple(row) for row in task_result]
        versions = [
            tuple(row)
            for row in conn.exec_driver_sql(
                "SELECT entity, entity_id, hlc, device_id, deleted FROM sync_versions"
            )
        ]
    per_statement = 200  # as the engine's multi-row upserts
    one = f"({', '.join('?' * len(task_columns))})"
    insert = f"INSERT INTO tasks ({', '.join(task_columns)}) VALUES "
    statements: dict[int, str] = {}
    pages = []
    for start in range(0, len(tasks), page):
        chunks = [
            tuple(v for row in tasks[at : min(at + per_statement, start + page)] for v in row)
            for at in range(start, min(start + page, len(tasks)), per_statement)
        ]
        pages.append((chunks, versions[start : start + page]))
    statements[per_statement] = insert + ", ".join([one] * per_statement)
    target = Database.open(scratch / "floor.db", os.urandom(32))
    try:
        started = time.perf_counter()
        for chunks, page_versions in pages:
            with target.write() as session:
                conn = session.connection()
                for chunk in chunks:
                    rows = len(chunk) // len(task_columns)
                    if rows not in statements:  # made before the clock, for the full chunks
                        statements[rows] = insert + ", ".join([one] * rows)
                    conn.exec_driver_sql(statements[rows], chunk)
                conn.exec_driver_sql(
                    "INSERT INTO sync_versions (entity, entity_id, hlc, device_id, deleted) "
                    "VALUES (?, ?, ?, ?, ?)",
                    page_versions,
                )
        return time.perf_counter() - started
    finally:
        target.close()


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


class Announced:
    """When each task was first announced on an event bus (``perf_counter`` seconds)."""

    def __init__(self, bus: EventBus) -> None:
        self._at: dict[str, float] = {}
        self._news = threading.Condition()
        self.unsubscribe = bus.subscribe(self._on_event, TaskChanged.kind)

    def _on_event(self, event: Event) -> None:
        at = time.perf_counter()
        if isinstance(event.payload, TaskChanged):
            with self._news:
                self._at.setdefault(event.payload.task_id, at)
                self._news.notify_all()

    def when(self, task_id: str) -> float:
        """When ``task_id`` was announced, waiting for it if need be."""
        with self._news:
            if not self._news.wait_for(lambda: task_id in self._at, LOST_S):
                raise RuntimeError(f"task {task_id} was not announced within {LOST_S:.0f} s")
            return self._at[task_id]


@contextmanager
def running_agent(device: Device, home: Path) -> Iterator[Runtime]:
    """The real agent syncing as ``device``, on its own thread as the desktop app hosts it."""
    settings = Settings(
        data_dir=home / "data",
        config_dir=home / "config",
        log_dir=home / "log",
        port=0,
        # Keys given, so that neither start looks for an OS keyring.
        encryption_key=SecretStr(os.urandom(32).hex()),
        api_token=SecretStr(API_TOKEN_PREFIX + secrets.token_urlsafe(32)),
        sync_url=SecretStr(f"{device.url}?password={device.password}"),
    )
    keyring_backend = keyring.backends.fail.Keyring()  # type: ignore[no-untyped-call]
    runtime = Runtime(settings, keyring_backend=keyring_backend)
    host = AgentThread(lambda: runtime)
    host.start_and_wait()
    try:
        deadline = time.monotonic() + LOST_S
        while runtime.sync.status.state != "up_to_date":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the agent's first sync did not end: {runtime.sync.status}")
            time.sleep(0.05)
        yield runtime
    finally:
        host.stop()


def change_latencies(a: Runtime, b: Runtime, count: int) -> list[float]:
    """Seconds from each task's commit on ``a`` to its arrival in ``b``'s store."""
    commits, arrivals = Announced(a.bus), Announced(b.bus)
    spent: list[float] = []
    try:
        for n in range(WARMUP + count):
            task = a.store.tasks.create(TaskCreate(title=f"latency {n}"))
            took = arrivals.when(task.id) - commits.when(task.id)
            if n >= WARMUP:
                spent.append(took)
            time.sleep(PAUSE_S)
    finally:
        commits.unsubscribe()
        arrivals.unsubscribe()
    return spent


def notify_latencies(device: Device, count: int) -> list[float]:
    """Seconds from a NOTIFY on one connection to its arrival on another that LISTENs."""
    channel = f"bench_{uuid.uuid4().hex[:8]}"
    arrived: queue.SimpleQueue[float] = queue.SimpleQueue()
    with device.connect(autocommit=True) as listener, device.connect(autocommit=True) as sender:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

        def listen() -> None:
            for _ in listener.notifies(stop_after=WARMUP + count):
                arrived.put(time.perf_counter())

        thread = threading.Thread(target=listen, name="bench-listen", daemon=True)
        thread.start()
        spent: list[float] = []
        for n in range(WARMUP + count):
            started = time.perf_counter()
            sender.execute("SELECT pg_notify(%s, %s)", (channel, str(n)))
            took = arrived.get(timeout=LOST_S) - started
            if n >= WARMUP:
                spent.append(took)
            time.sleep(PAUSE_S)
        thread.join(LOST_S)
    return spent


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at least ``share`` of them reach."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def run(count: int, changes: int) -> None:
    """Push and pull ``count`` tasks, then carry ``changes`` one by one, and the baselines."""
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
            floor = store_floor(store_b, Path(scratch), PAGE_SIZE)
        finally:
            engine_a.close()
            engine_b.close()
            store_a.close()
            store_b.close()

        # A tenant of their own: the agents start empty, with nothing to pull.
        la, lb = (Device(server, database, name, TENANT + "-latency") for name in ("la", "lb"))
        notified = notify_latencies(lb, changes)
        with (
            running_agent(la, Path(scratch) / "la") as agent_a,
            running_agent(lb, Path(scratch) / "lb") as agent_b,
        ):
            carried = change_latencies(agent_a, agent_b, changes)
        notified += notify_latencies(lb, changes)

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
    print(
        f"| floor: the same rows written into an empty store, no server, no Python per row "
        f"| {count / floor:,.0f} | {count / pull_base:,.0f} | {pull_base / floor:.2f}x | |"
    )
    p50, p99 = (percentile(carried, q) * 1000 for q in (0.5, 0.99))
    base50, base99 = (percentile(notified, q) * 1000 for q in (0.5, 0.99))
    verdict = "met" if p99 <= 100 else "missed"
    print(f"\n| change latency A -> server -> B, {changes} changes | p50 ms | p99 ms | target |")
    print("|---|---:|---:|---|")
    print(
        f"| agents: A's commit to B's store (sync service) | {p50:.1f} | {p99:.1f} "
        f"| p99 <= 100 ms: {verdict} |"
    )
    print(f"| baseline: NOTIFY to a LISTENing connection | {base50:.2f} | {base99:.2f} | |")
    print(f"| ratio (agents / baseline) | {p50 / base50:.0f}x | {p99 / base99:.0f}x | |")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks pushed and pulled")
    parser.add_argument("--changes", type=int, default=200, help="changes timed A -> B")
    args = parser.parse_args()
    run(args.tasks, args.changes)


if __name__ == "__main__":
    main()
