"""``atom-desktop --install``: a Linux build copies itself to where it can update itself.

A tarball unpacked in Downloads runs fine, but it cannot replace itself
safely: it may sit on a read-only or shared disk, and nothing would start
the new version. Installing copies the build's folder into the side-by-side
layout (:mod:`atom_desktop.updates.linux_layout`) and points ``current`` at
it; the launcher entry then starts ``INSTALL_ROOT/current/atom-desktop``,
which every update switches in one rename.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.linux_layout import EXECUTABLE_NAME, LinuxLayout


def default_install_root(home: Path) -> Path:
    """Where a build installs itself for one user: beside the user's other programs."""
    return home / ".local" / "lib" / "atom-desktop"


def install_build(executable: Path, root: Path, version: str) -> Path:
    """Copy the build holding ``executable`` to ``root/versions/<version>``; make it current.

    Returns the program that keeps starting the installed version across
    updates (``root/current/atom-desktop``). A build already in a layout is
    refused (it updates where it is); an installed, current copy of the same
    version is left alone, another one is replaced. The copy lands under a
    temporary name first, so an interrupted install never leaves a half
    version that ``current`` could point at.
    """
    if LinuxLayout.of_executable(executable) is not None:
        raise InstallError(
            f"This copy is already installed ({executable.resolve().parent.parent.parent}); "
            "it updates itself there."
        )
    source = executable.resolve().parent
    if not (source / EXECUTABLE_NAME).is_file():
        raise InstallError(f"{source} holds no {EXECUTABLE_NAME} program; nothing was installed.")
    layout = LinuxLayout(root)
    target = layout.version_dir(version)
    if layout.installed_version() == version and (target / EXECUTABLE_NAME).is_file():
        return layout.current_link / EXECUTABLE_NAME
    try:
        # Not writable by group or others whatever the umask: updates are refused there.
        root.mkdir(mode=0o755, parents=True, exist_ok=True)
        layout.versions_dir.mkdir(mode=0o755, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=layout.versions_dir, prefix=f".copy-{version}-"))
        try:
            copy = scratch / "app"
            shutil.copytree(source, copy, symlinks=True)
            if target.exists():
                shutil.rmtree(target)
            copy.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        raise InstallError(
            f"Could not copy the app to {target} ({exc.strerror or exc}).",
            hint=f"Make sure {root} is a folder you can write to, with room for the app.",
        ) from exc
    layout.activate(version)
    return layout.current_link / EXECUTABLE_NAME
