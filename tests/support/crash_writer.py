"""Writer processes for the crash tests, forked from one pre-imported parent.

Importing SQLAlchemy, alembic and pydantic costs about half a second per
process; forking writers from a parent that did it once keeps fifty kill
rounds quick. Protocol on stdin/stdout, one line each:

- parent reads the hex key (never from its environment), then commands
  ``<db path> <prefix>``;
- for each it forks a writer and prints ``pid <pid>``; the writer prints
  ``ack <n>`` after transaction ``n`` has committed, until it is killed;
- the parent reaps it and prints ``exit <status>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.database import Database
from atom_desktop.store.task_types import TaskCreate
from atom_desktop.store.tasks import TaskRepository


def write_forever(path: Path, key: bytes, prefix: str) -> None:
    """Commit pairs of tasks and acknowledge each commit."""
    db = Database.open(path, key)
    repo = TaskRepository(db, IdFactory())
    n = 0
    while True:
        n += 1
        # Two rows per transaction, so a torn transaction would show.
        repo.create_many(
            [
                TaskCreate(title=f"{prefix}-{n}-a", notes="x" * (n % 500)),
                TaskCreate(title=f"{prefix}-{n}-b", tags=[f"t{n % 7}"]),
            ]
        )
        os.write(1, f"ack {n}\n".encode())


def main() -> None:
    """Serve fork requests until stdin closes."""
    key = bytes.fromhex(sys.stdin.readline().strip())
    for line in sys.stdin:
        path, prefix = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(Path(path), key, prefix)
            finally:
                os._exit(1)
        os.write(1, f"pid {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {status}\n".encode())


if __name__ == "__main__":
    main()
