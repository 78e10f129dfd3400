"""Only the user may change what an update trusts: the install root and its state folder.

The handover runs what the install root holds and follows the plan in its
``.update`` folder. If another user could write either, they could make the
next update start a program of theirs as this user, so updates are refused
there (with what to do about it) rather than applied. Windows keeps its own
access lists on the install folder; these checks are POSIX only.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from atom_desktop.updates.errors import InstallError

#: The mode of ``INSTALL_ROOT/.update``: the handover's plan, trial files and logs.
STATE_DIR_MODE = 0o700


def check_private(path: Path, what: str) -> None:
    """InstallError unless ``path`` belongs to this user and no one else may write to it."""
    if sys.platform != "win32":
        try:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                info = path.stat()
        except OSError as exc:
            raise InstallError(
                f"{what} {path} cannot be checked ({exc.strerror or exc}); "
                "the update was not applied."
            ) from None
        uid = os.getuid()
        if info.st_uid != uid:
            raise InstallError(
                f"{what} {path} belongs to user id {info.st_uid}, not to you (user id {uid}); "
                "updates are applied only where no one else can change the app.",
                hint=f"Install the app again as yourself, or make {path} yours (chown).",
            )
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise InstallError(
                f"{what} {path} can be changed by other users (mode "
                f"{stat.S_IMODE(info.st_mode):o}); updates are applied only where no one "
                "else can change the app.",
                hint=f"Run: chmod go-w '{path}'",
            )


def make_state_dir(state_dir: Path) -> Path:
    """``state_dir`` made (mode 0700) or tightened to it, and checked; returns it."""
    state_dir.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
    if sys.platform != "win32":
        info = state_dir.lstat()
        if (
            stat.S_ISDIR(info.st_mode)
            and info.st_uid == os.getuid()
            and stat.S_IMODE(info.st_mode) != STATE_DIR_MODE
        ):
            state_dir.chmod(STATE_DIR_MODE)
        if not stat.S_ISDIR(info.st_mode):
            raise InstallError(f"The update state folder {state_dir} is not a folder.")
    check_private(state_dir, "The update state folder")
    return state_dir
