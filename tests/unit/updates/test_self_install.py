"""``--install``'s copy of a build into the layout it updates in, on real folders."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.ownership import check_private
from atom_desktop.updates.self_install import default_install_root, install_build


def unpacked_build(where: Path, says: str) -> Path:
    """A one-folder build as a tarball unpacks: a program and a file beside it."""
    folder = where / "atom-desktop"
    (folder / "_internal").mkdir(parents=True)
    (folder / "_internal" / "data.txt").write_text(says)
    program = folder / "atom-desktop"
    program.write_text('#!/bin/sh\ncat "$(dirname "$0")/_internal/data.txt"\n')
    program.chmod(0o755)
    (folder / "_internal" / "link").symlink_to("data.txt")
    return program


def test_the_build_is_copied_and_started_through_current(tmp_path: Path) -> None:
    program = unpacked_build(tmp_path / "Downloads", "0.3.0 here")
    root = tmp_path / "lib" / "atom-desktop"

    stable = install_build(program, root, "0.3.0")

    assert stable == root / "current" / "atom-desktop"
    assert (root / "current").readlink() == Path("versions/0.3.0")
    ran = subprocess.run([str(stable)], capture_output=True, text=True, check=True)
    assert ran.stdout == "0.3.0 here"
    assert (root / "versions/0.3.0/_internal/link").is_symlink()
    assert LinuxLayout.of_executable(stable) is not None
    assert LinuxLayout.stable_program(stable.resolve()) == stable
    # The unpacked folder is untouched and no scratch copy is left.
    assert program.is_file()
    assert [p.name for p in (root / "versions").iterdir()] == ["0.3.0"]


def test_installing_the_same_version_again_changes_nothing(tmp_path: Path) -> None:
    program = unpacked_build(tmp_path / "a", "first")
    root = tmp_path / "root"
    install_build(program, root, "0.3.0")
    again = unpacked_build(tmp_path / "b", "second")

    install_build(again, root, "0.3.0")

    assert (root / "versions/0.3.0/_internal/data.txt").read_text() == "first"


def test_a_newer_build_becomes_current_and_the_older_stays(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install_build(unpacked_build(tmp_path / "a", "old"), root, "0.3.0")

    install_build(unpacked_build(tmp_path / "b", "new"), root, "0.4.0")

    assert LinuxLayout(root).installed_version() == "0.4.0"
    assert (root / "versions/0.3.0").is_dir()


def test_an_installed_copy_is_not_installed_again(tmp_path: Path) -> None:
    root = tmp_path / "root"
    stable = install_build(unpacked_build(tmp_path / "a", "x"), root, "0.3.0")

    with pytest.raises(InstallError, match="already installed"):
        install_build(stable, tmp_path / "elsewhere", "0.3.0")


def test_a_root_that_cannot_be_made_says_what_to_do(tmp_path: Path) -> None:
    # A file where a folder should go: refused for every user, root included.
    blocker = tmp_path / "lib"
    blocker.write_text("not a folder")

    with pytest.raises(InstallError, match="Could not copy the app") as raised:
        install_build(unpacked_build(tmp_path / "a", "x"), blocker / "atom-desktop", "0.3.0")

    assert "can write to" in str(raised.value.hint)
    assert blocker.read_text() == "not a folder"


def test_the_default_root_is_the_users_own(tmp_path: Path) -> None:
    assert default_install_root(tmp_path) == tmp_path / ".local/lib/atom-desktop"


def test_the_install_folder_is_not_writable_by_the_group_whatever_the_umask(
    tmp_path: Path,
) -> None:
    # Updates refuse a root others can change; a common umask (002) must not make one.
    program = unpacked_build(tmp_path / "Downloads", "0.3.0 here")
    root = tmp_path / "lib" / "atom-desktop"
    old = os.umask(0o002)
    try:
        install_build(program, root, "0.3.0")
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "versions").stat().st_mode) == 0o755
    check_private(root, "The install folder")
