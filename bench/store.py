"""Store benchmark: our SQLCipher store against the same statements unencrypted.

Runs the same TaskRepository code over two databases made with the same
sqlcipher3 library, one keyed (what ATOM Desktop ships) and one unkeyed (the
baseline), in the same run, and prints throughput ratios keyed / unkeyed:

    insert 100,000 tasks (1,000 per transaction), 2,000 point lookups,
    2,000 indexed filters (status, first page), FTS searches

Lookups, filters and searches run once to warm the cache, then are timed: the
targets are for a cached working set. Each measurement alternates keyed and
unkeyed runs and reports the median of ``--rounds``.

    .venv/bin/python -m bench.store [--tasks 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import sqlcipher3

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.engine import build_engine, connect
from atom_desktop.store.migrator import migrate
from atom_desktop.store.task_types import TaskCreate, TaskFilter, TaskStatus
from atom_desktop.store.tasks import TaskRepository

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "pa",
    "do",
    "fi",
    "gu",
    "he",
    "ja",
    "ko",
]
# A 4,096-word vocabulary: each word is in a few hundred of 100,000 tasks, as
# real words are, instead of in most of them.
WORDS = [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES]
STATUSES: tuple[TaskStatus, ...] = ("todo", "doing", "done", "cancelled")
T = TypeVar("T")
TARGETS = {"insert": 0.85, "point lookup": 0.9}


def open_keyed(path: Path, key: bytes) -> Database:
    """The store exactly as the app opens it."""
    return Database.open(path, key)


def open_unkeyed(path: Path) -> Database:
    """The same engines and migrations over an unencrypted file (the baseline)."""
    first = connect(path, None, create=True)
    first.execute("PRAGMA journal_mode = WAL")
    first.close()
    writer = build_engine(partial(connect, path, None), writer=True)
    reader = build_engine(partial(connect, path, None), writer=False)
    migrate(writer)
    return Database(path, writer, reader)


def make_tasks(n: int, rng: random.Random) -> list[TaskCreate]:
    """Deterministic, varied tasks."""
    return [
        TaskCreate(
            title=" ".join(rng.choices(WORDS, k=4)) + f" #{i}",
            notes=" ".join(rng.choices(WORDS, k=20)),
            status=rng.choice(STATUSES),
            priority=rng.randint(0, 3),
            tags=rng.sample(WORDS, 2),
        )
        for i in range(n)
    ]


@dataclass
class Side:
    """One database of the pair, with the ids of the tasks stored in it."""

    repo: TaskRepository
    ids: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def one_round(
    workdir: Path, key: bytes, tasks: list[TaskCreate], seed: int, counts: dict[str, int]
) -> dict[str, dict[str, float]]:
    """Fill a keyed and an unkeyed database side by side; ops/s per side and workload.

    Work alternates between the two databases in small chunks (and which goes
    first alternates too), so a noisy neighbour on a shared machine slows
    both sides alike instead of skewing the ratio.
    """
    dbs = {
        "keyed": open_keyed(workdir / f"keyed-{seed}.db", key),
        "unkeyed": open_unkeyed(workdir / f"unkeyed-{seed}.db"),
    }
    try:
        sides = {label: Side(TaskRepository(db, IdFactory())) for label, db in dbs.items()}

        def alternate(name: str, chunks: list[list[T]], op: Callable[[Side, T], object]) -> None:
            for i, chunk in enumerate(chunks):
                order = list(sides.values())
                for side in order if i % 2 == 0 else reversed(order):
                    start = time.perf_counter()
                    for item in chunk:
                        op(side, item)
                    took = time.perf_counter() - start
                    side.seconds[name] = side.seconds.get(name, 0.0) + took

        def insert(side: Side, batch: list[TaskCreate]) -> None:
            side.ids.extend(task.id for task in side.repo.create_many(batch))

        def lookup(side: Side, index: int) -> None:
            side.repo.get(side.ids[index])

        def filter_(side: Side, status: TaskStatus) -> None:
            side.repo.page(TaskFilter(statuses=(status,)), limit=20)

        def search(side: Side, word: str) -> None:
            side.repo.search(word, limit=20)

        alternate("insert", [[tasks[i : i + 1000]] for i in range(0, len(tasks), 1000)], insert)
        rng = random.Random(seed)
        indexes = rng.choices(range(len(tasks)), k=counts["point lookup"])
        statuses = rng.choices(STATUSES, k=counts["indexed filter"])
        words = rng.choices(WORDS, k=counts["fts search"])
        # Each read workload runs once untimed first: the targets are for a
        # cached working set.
        for side in sides.values():
            for index in indexes:
                lookup(side, index)
        alternate("point lookup", chunked(indexes), lookup)
        for side in sides.values():
            for status in statuses:
                filter_(side, status)
        alternate("indexed filter", chunked(statuses), filter_)
        for side in sides.values():
            for word in words:
                search(side, word)
        alternate("fts search", chunked(words), search)
    finally:
        for db in dbs.values():
            db.close()
    sizes = {"insert": len(tasks), **counts}
    return {
        label: {name: sizes[name] / secs for name, secs in side.seconds.items()}
        for label, side in sides.items()
    }


def chunked(items: list[T], size: int = 100) -> list[list[T]]:
    """``items`` in consecutive chunks of ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--filters", type=int, default=2_000)
    parser.add_argument("--searches", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tasks = make_tasks(args.tasks, random.Random(42))
    counts = {
        "point lookup": args.lookups,
        "indexed filter": args.filters,
        "fts search": args.searches,
    }
    rounds: list[dict[str, dict[str, float]]] = []
    key = os.urandom(32)
    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        for round_ in range(args.rounds):
            rounds.append(one_round(Path(tmp), key, tasks, round_, counts))
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)
        open_cost = measure_open(Path(tmp) / "keyed-0.db", key)

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} "
        f"{platform.python_version()}, SQLCipher {cipher_version()}"
    )
    print(
        f"{args.tasks:,} tasks, {args.lookups:,} lookups, {args.filters:,} filters, "
        f"{args.searches:,} searches; median of {args.rounds} rounds"
    )
    print()
    print("| workload | keyed (ops/s) | unkeyed (ops/s) | keyed / unkeyed | target |")
    print("|---|---:|---:|---:|---:|")
    for name in ("insert", "point lookup", "indexed filter", "fts search"):
        keyed = statistics.median(r["keyed"][name] for r in rounds)
        plain = statistics.median(r["unkeyed"][name] for r in rounds)
        ratio = statistics.median(r["keyed"][name] / r["unkeyed"][name] for r in rounds)
        target = TARGETS.get(name)
        verdict = (
            "" if target is None else f">= {target} " + ("met" if ratio >= target else "MISSED")
        )
        print(f"| {name} | {keyed:,.0f} | {plain:,.0f} | {ratio:.2f}x | {verdict} |")
    print()
    print(
        f"opening the keyed {args.tasks:,}-task database (key check, full page HMAC and "
        f"structure check, migrations check): {open_cost:.3f} s"
    )


def measure_open(path: Path, key: bytes) -> float:
    """Time Database.open of a filled keyed database (median of 3)."""
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        Database.open(path, key).close()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cipher_version() -> str:
    conn = sqlcipher3.dbapi2.connect(":memory:")
    try:
        return str(conn.execute("PRAGMA cipher_version").fetchone()[0])
    finally:
        conn.close()


if __name__ == "__main__":
    main()
