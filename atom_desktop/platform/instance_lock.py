"""One agent per data directory: an exclusive lock on a file in it.

The lock is held by the open file, so it goes away with the process however
that ends (even SIGKILL); the file's JSON says which process holds it and on
which port its API answers, for the second launch and for the CLI.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from atom_desktop.core.errors import AtomError

LOCK_FILE_NAME = "agent.lock"


class AlreadyRunningError(AtomError):
    """Another agent holds the lock of this data directory."""

    def __init__(self, message: str, info: dict[str, Any], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.info = info


def read_info(path: Path) -> dict[str, Any] | None:
    """What the holder wrote into the lock file, if anything readable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class InstanceLock:
    """An exclusive, non-blocking lock on ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, info: dict[str, Any]) -> None:
        """Take the lock and write ``info``; AlreadyRunningError if another process has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            holder = read_info(self.path) or {}
            raise AlreadyRunningError(
                f"ATOM Desktop is already running for the data directory {self.path.parent} "
                f"(PID {holder.get('pid', '?')}).",
                holder,
                hint="Use that agent, or stop it first (atom-desktop status shows it).",
            )
        self._fd = fd
        self.update(info)

    def update(self, info: dict[str, Any]) -> None:
        """Rewrite the holder information (e.g. once the port is known)."""
        if self._fd is None:
            return
        data = json.dumps(info).encode()
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, data)

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


# Windows' file locks are mandatory: a lock over the JSON at the start of the
# file would keep the second launch and the CLI from reading who holds it and
# on which port. So the one locked byte lies far past any data (Windows locks
# a range past the end of a file as well).
_WINDOWS_LOCK_OFFSET = 1 << 30


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt  # noqa: PLC0415

        # msvcrt.locking locks from the current position.
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    else:  # not an early return: mypy checking for Windows would call this unreachable
        import fcntl  # noqa: PLC0415

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def health_url(info: dict[str, Any]) -> str | None:
    """The holder's health URL, if it wrote its port."""
    port = info.get("port")
    if not isinstance(port, int):
        return None
    return f"http://127.0.0.1:{port}/api/v1/health"


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether an agent answers ``url`` (its health endpoint, which needs no token)."""
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own loopback URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class InstanceService:
    """Runtime service holding the data directory's lock for the agent's lifetime."""

    name = "instance"

    def __init__(self, path: Path) -> None:
        self.lock = InstanceLock(path)

    async def async_start(self) -> None:
        """Take the lock, or explain who has it and whether it answers."""
        try:
            self.lock.acquire({"pid": os.getpid()})
        except AlreadyRunningError as exc:
            url = health_url(exc.info)
            if url is not None and answers(url):
                where = f"; its API answers at {url.removesuffix('/api/v1/health')}"
            else:
                where = "; its API does not answer (it may be starting or stuck)"
            raise AlreadyRunningError(
                exc.message.removesuffix(".") + where + ".", exc.info, hint=exc.hint
            ) from None

    async def async_stop(self) -> None:
        """Release the lock."""
        self.lock.release()
