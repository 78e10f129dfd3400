"""Files only the user may read (mode 0600), written safely."""

from __future__ import annotations

import os
from pathlib import Path


def create_private(path: Path, text: str) -> None:
    """Write a new 0600 file; fails if it exists, so nothing is ever overwritten."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def replace_private(path: Path, text: str) -> None:
    """Atomically replace ``path`` with a new 0600 file holding ``text``."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    create_private(tmp, text)
    tmp.replace(path)
