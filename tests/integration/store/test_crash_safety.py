"""SIGKILL a committing writer again and again; nothing acknowledged is ever lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from atom_desktop.store.database import Database
from atom_desktop.store.engine import connect
from atom_desktop.store.models import OutboxRow, TaskRow

KILLS = 50
pytestmark = pytest.mark.slow


class WriterFactory:
    """Talks to tests/support/crash_writer.py, which forks the writers."""

    def __init__(self, key: bytes) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.crash_writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=Path(__file__).parents[3],
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.stdin.write(key.hex() + "\n")

    def run_and_kill(self, path: Path, prefix: str, rng: random.Random) -> int:
        """Fork a writer, SIGKILL it at a random moment, return its last acknowledged commit."""
        self.stdin.write(f"{path} {prefix}\n")
        kind, pid = self.stdout.readline().split()
        assert kind == "pid"
        acked = 0
        target = rng.randint(1, 40)
        while acked < target:
            kind, value = self.stdout.readline().split()
            assert kind == "ack", f"writer ended early: {kind} {value}"
            acked = int(value)
        # Land the kill anywhere inside the following commits.
        time.sleep(rng.uniform(0, 0.02))
        os.kill(int(pid), signal.SIGKILL)
        # Acknowledgements written before the kill still count.
        for line in self.stdout:
            kind, value = line.split()
            if kind == "exit":
                assert os.WIFSIGNALED(int(value))
                assert os.WTERMSIG(int(value)) == signal.SIGKILL
                break
            acked = int(value)
        return acked

    def close(self) -> None:
        self.stdin.close()
        try:
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stdout.close()


def _check(path: Path, key: bytes, expected: dict[str, int]) -> None:
    raw = connect(path, key)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert raw.execute("PRAGMA cipher_integrity_check").fetchall() == []
    finally:
        raw.close()
    db = Database.open(path, key)
    try:
        with db.read() as session:
            titles = set(session.scalars(select(TaskRow.title)))
            outbox = session.scalar(select(OutboxRow.seq).order_by(OutboxRow.seq.desc()).limit(1))
    finally:
        db.close()
    for prefix, acked in expected.items():
        for n in range(1, acked + 1):
            assert f"{prefix}-{n}-a" in titles, f"commit {prefix}/{n} lost"
            assert f"{prefix}-{n}-b" in titles, f"half of commit {prefix}/{n} lost"
    # Whole transactions only: each committed pair, with one outbox entry per task.
    assert len([t for t in titles if t.endswith("-a")]) == len(
        [t for t in titles if t.endswith("-b")]
    )
    assert outbox == len(titles)


def test_sigkill_during_commits_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    key = os.urandom(32)
    path = tmp_path / "atom.db"
    Database.open(path, key).close()
    expected: dict[str, int] = {}
    writers = WriterFactory(key)
    try:
        for i in range(KILLS):
            prefix = f"w{i}"
            expected[prefix] = writers.run_and_kill(path, prefix, rng)
            _check(path, key, expected)
    finally:
        writers.close()
