"""Running the system's installer tools, replaceable in tests that check what would run."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from atom_desktop.updates.errors import InstallError

#: Runs one argv and raises InstallError if it fails.
CommandRunner = Callable[[Sequence[str]], None]


def run_command(argv: Sequence[str], timeout_s: float = 600.0) -> None:
    """Run ``argv`` (never through a shell) and raise InstallError with its output on failure."""
    try:
        done = subprocess.run(  # noqa: S603 - a fixed system tool and paths we chose
            list(argv), capture_output=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{argv[0]} could not be run: {exc}.") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-500:]
        raise InstallError(f"{argv[0]} failed with code {done.returncode}: {output}")
