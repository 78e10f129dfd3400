"""The installers' logic: the Linux layout on real files, and what the MSI and DMG installers run.

The Windows and macOS installers cannot run here; these tests check the
commands they would run and the files they keep, with a recorder in place
of the system tools.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from atom_desktop.updates.errors import InstallError
from atom_desktop.updates.linux_layout import LinuxLayout
from atom_desktop.updates.macos_dmg import APP_NAME, MacDmgInstaller
from atom_desktop.updates.windows_msi import WindowsMsiInstaller
from tests.support.update_builds import build_tarball, install_version


class Recorder:
    """Records the commands an installer runs; optionally fails one of them."""

    def __init__(self, fail_on: str | None = None, effect: dict[str, Path] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.effect = effect or {}

    def __call__(self, argv: Sequence[str]) -> None:
        self.calls.append(list(argv))
        if self.fail_on is not None and argv[0] == self.fail_on:
            raise InstallError(f"{argv[0]} failed with code 1: simulated")
        target = self.effect.get(argv[0])
        if target is not None:
            # What ditto would have copied.
            Path(argv[-1]).mkdir(parents=True)


def _tarball(tmp_path: Path, members: dict[str, bytes | None]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o755
                archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "build.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


# -- Linux ------------------------------------------------------------------------------


def test_linux_prepare_switch_and_prune(tmp_path: Path) -> None:
    root = tmp_path / "install"
    for version in ("0.0.9", "0.1.0"):
        install_version(root, version)
    layout = LinuxLayout(root)
    layout.activate("0.1.0")
    artifact = tmp_path / "b.tar.gz"
    artifact.write_bytes(build_tarball("0.2.0", "starts"))

    layout.prepare(artifact, "0.2.0")
    assert layout.installed_version() == "0.1.0"
    assert (root / "versions" / "0.2.0" / "_internal" / "VERSION").read_text() == "0.2.0\n"
    assert not [p for p in (root / "versions").iterdir() if p.name.startswith(".")]

    layout.activate("0.2.0")
    assert (root / "current").readlink() == Path("versions/0.2.0")  # relative: the root can move
    assert LinuxLayout.of_executable(root / "current" / "atom-desktop") is not None
    layout.prune({"0.2.0", "0.1.0"})
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["0.1.0", "0.2.0"]


def test_linux_layout_is_found_from_the_running_program_only_in_place(tmp_path: Path) -> None:
    program = install_version(tmp_path / "install", "0.1.0")
    found = LinuxLayout.of_executable(program)
    assert found is not None and found.root == tmp_path / "install"
    loose = tmp_path / "unpacked" / "atom-desktop"
    loose.parent.mkdir()
    loose.write_text("")
    assert LinuxLayout.of_executable(loose) is None
    # What menu and start-at-login entries should name: the path that follows updates.
    assert LinuxLayout.stable_program(program) == tmp_path / "install" / "current" / "atom-desktop"
    assert LinuxLayout.stable_program(loose) == loose


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"atom-desktop/../../evil": b"x"}, "could not be unpacked"),
        # The "data" filter unpacks an absolute name inside the folder; no program there.
        ({"/etc/evil": b"x"}, "no atom-desktop program"),
        ({"a/atom-desktop": b"x", "b/atom-desktop": b"x"}, "one top folder"),
        ({"atom-desktop/": None, "atom-desktop/other": b"x"}, "no atom-desktop program"),
    ],
    ids=["parent-path", "absolute-path", "two-folders", "no-program"],
)
def test_linux_prepare_refuses_a_bad_build(
    tmp_path: Path, members: dict[str, bytes | None], words: str
) -> None:
    root = tmp_path / "install"
    install_version(root, "0.1.0")
    layout = LinuxLayout(root)
    layout.activate("0.1.0")
    with pytest.raises(InstallError, match=words):
        layout.prepare(_tarball(tmp_path, members), "0.2.0")
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["0.1.0"]
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "install" / "evil").exists()


def test_linux_never_unpacks_over_or_discards_the_current_version(tmp_path: Path) -> None:
    root = tmp_path / "install"
    install_version(root, "0.1.0")
    layout = LinuxLayout(root)
    layout.activate("0.1.0")
    with pytest.raises(InstallError, match="is the installed one"):
        layout.prepare(tmp_path / "whatever.tar.gz", "0.1.0")
    assert layout.discard("0.1.0") is None
    with pytest.raises(InstallError, match="not installed"):
        layout.activate("0.3.0")
    with pytest.raises(InstallError, match="not a release number"):
        layout.activate("../0.1.0")


def test_linux_keeps_only_the_newest_failed_versions(tmp_path: Path) -> None:
    root = tmp_path / "install"
    install_version(root, "0.1.0")
    layout = LinuxLayout(root)
    layout.activate("0.1.0")
    for version in ("0.2.0", "0.2.1", "0.2.2"):
        install_version(root, version)
        moved = layout.discard(version)
        assert moved is not None and moved.parent == root / "failed"
    kept = sorted(p.name.split("-")[0] for p in (root / "failed").iterdir())
    assert kept == ["0.2.1", "0.2.2"]


def test_macos_moves_failed_versions_aside_as_linux_does(tmp_path: Path) -> None:
    root = tmp_path / "Applications"
    installer = MacDmgInstaller(root)
    for version in ("0.1.0", "0.2.0", "0.2.1", "0.2.2"):
        (root / "versions" / version / APP_NAME).mkdir(parents=True)
    installer.activate("0.1.0")
    assert installer.discard("0.1.0") is None  # never the current one
    for version in ("0.2.0", "0.2.1", "0.2.2"):
        moved = installer.discard(version)
        assert moved is not None and moved.parent == root / "failed"
    kept = sorted(p.name.split("-")[0] for p in (root / "failed").iterdir())
    assert kept == ["0.2.1", "0.2.2"]
    installer.prune({"0.1.0"})
    assert [p.name for p in (root / "versions").iterdir()] == ["0.1.0"]


# -- Windows (MSI) ------------------------------------------------------------------------


def test_windows_installs_the_kept_msi_and_rolls_back_with_the_previous_one(
    tmp_path: Path,
) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "atom-desktop-0.1.0.msi").write_bytes(b"old")
    download = tmp_path / "download.msi"
    download.write_bytes(b"new")
    run = Recorder()
    installer = WindowsMsiInstaller(tmp_path / "Programs" / "ATOM Desktop", packages, "0.1.0", run)

    installer.prepare(download, "0.2.0")
    installer.activate("0.2.0")
    assert installer.installed_version() == "0.2.0"
    installer.activate("0.1.0")  # the rollback
    msi_new, msi_old = packages / "atom-desktop-0.2.0.msi", packages / "atom-desktop-0.1.0.msi"
    assert run.calls == [
        ["msiexec", "/i", str(msi_new), "/passive", "/norestart", "REINSTALLMODE=amus",
         "/l*v", str(packages / "install-0.2.0.log")],
        ["msiexec", "/i", str(msi_old), "/passive", "/norestart", "REINSTALLMODE=amus",
         "/l*v", str(packages / "install-0.1.0.log")],
    ]  # fmt: skip
    assert (
        installer.executable("0.2.0") == tmp_path / "Programs" / "ATOM Desktop" / "ATOM Desktop.exe"
    )
    assert installer.discard("0.2.0") == packages / "atom-desktop-0.2.0.msi.failed"
    installer.prune({"0.1.0"})
    assert sorted(p.name for p in packages.glob("*.msi")) == ["atom-desktop-0.1.0.msi"]


def test_windows_cannot_roll_back_without_the_previous_msi(tmp_path: Path) -> None:
    run = Recorder()
    installer = WindowsMsiInstaller(tmp_path, tmp_path / "packages", "0.1.0", run)
    with pytest.raises(InstallError, match="was not kept"):
        installer.activate("0.1.0")
    assert run.calls == []


def test_windows_reports_a_failed_msiexec(tmp_path: Path) -> None:
    download = tmp_path / "d.msi"
    download.write_bytes(b"new")
    installer = WindowsMsiInstaller(tmp_path, tmp_path / "p", "0.1.0", Recorder(fail_on="msiexec"))
    installer.prepare(download, "0.2.0")
    with pytest.raises(InstallError, match="msiexec failed"):
        installer.activate("0.2.0")
    assert installer.installed_version() == "0.1.0"


# -- macOS (DMG) --------------------------------------------------------------------------


def test_macos_mounts_copies_detaches_then_switches(tmp_path: Path) -> None:
    root = tmp_path / "ATOM Desktop"
    run = Recorder(effect={"ditto": root})
    installer = MacDmgInstaller(root, run)
    dmg = tmp_path / "b.dmg"
    installer.prepare(dmg, "0.2.0")

    attach, copy, detach = run.calls
    mount = Path(attach[attach.index("-mountpoint") + 1])
    assert attach[:3] == ["hdiutil", "attach", str(dmg)]
    assert {"-nobrowse", "-readonly", "-noautoopen"} <= set(attach)
    assert copy == ["ditto", str(mount / APP_NAME), str(root / "versions" / "0.2.0" / APP_NAME)]
    assert detach == ["hdiutil", "detach", str(mount), "-force"]
    assert not mount.exists()  # the private mount point is removed

    installer.activate("0.2.0")
    assert installer.installed_version() == "0.2.0"
    assert (root / APP_NAME).readlink() == Path("current") / APP_NAME
    assert installer.executable("0.2.0") == (
        root / "versions" / "0.2.0" / APP_NAME / "Contents" / "MacOS" / "ATOM Desktop"
    )


def test_macos_detaches_even_when_the_copy_fails(tmp_path: Path) -> None:
    root = tmp_path / "ATOM Desktop"
    run = Recorder(fail_on="ditto")
    installer = MacDmgInstaller(root, run)
    with pytest.raises(InstallError, match="ditto failed"):
        installer.prepare(tmp_path / "b.dmg", "0.2.0")
    assert [call[:2] for call in run.calls] == [
        ["hdiutil", "attach"],
        ["ditto", run.calls[1][1]],
        ["hdiutil", "detach"],
    ]
    assert not (root / "versions" / "0.2.0").exists()
