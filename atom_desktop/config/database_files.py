"""The files of a database, and what to tell a person whose database cannot be used.

Here, below both the store and the secrets, because both need them: the
store when it refuses a damaged file, the key policy when a database is
missing or is being set aside.
"""

from __future__ import annotations

from pathlib import Path

COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
# What to do when a database cannot be used and no backup is at hand.
START_FRESH = (
    "To start fresh on purpose, run 'atom-desktop --reset-data' (or 'atom-desktop serve "
    "--reset-data'): it asks first, and moves the old files aside instead of deleting them."
)


def database_files(path: Path) -> list[Path]:
    """The database at ``path`` and the SQLite files beside it, those that exist."""
    candidates = [path, *(path.with_name(path.name + suffix) for suffix in COMPANION_SUFFIXES)]
    return [candidate for candidate in candidates if candidate.exists()]
