"""The instance lock: one holder per data directory, whose information every other process reads.

Each check runs a second, real process against a lock this test holds. On
Windows, where file locks are mandatory, this also checks that the lock
does not cover the information the second process reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from atom_desktop.platform.instance_lock import InstanceLock, read_info

# The second launch: reads who holds the lock, then tries to take it.
_SECOND = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from atom_desktop.platform.instance_lock import AlreadyRunningError, InstanceLock, read_info

    path = Path(sys.argv[1])
    seen = read_info(path)
    try:
        InstanceLock(path).acquire({"pid": 0})
        took = True
    except AlreadyRunningError:
        took = False
    print(json.dumps({"seen": seen, "took": took}))
    """
)


def _second_launch(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _SECOND, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_a_held_lock_is_not_taken_and_its_information_is_read(tmp_path: Path) -> None:
    path = tmp_path / "agent.lock"
    lock = InstanceLock(path)
    lock.acquire({"pid": os.getpid()})
    try:
        lock.update({"pid": os.getpid(), "port": 8084})
        assert _second_launch(path) == {"seen": {"pid": os.getpid(), "port": 8084}, "took": False}
    finally:
        lock.release()


def test_a_released_lock_is_taken_by_the_next_launch(tmp_path: Path) -> None:
    path = tmp_path / "agent.lock"
    lock = InstanceLock(path)
    lock.acquire({"pid": os.getpid()})
    lock.release()
    assert read_info(path) is None  # emptied on release
    assert _second_launch(path)["took"] is True
