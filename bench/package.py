"""The Linux build against the app run from the venv, in the same run.

Builds with ``packaging/build-linux --reuse`` (a build of these sources is
kept), unpacks the tarball into a temporary folder as a person would, then,
under a virtual X display with a real tray host and a private Secret
Service, interleaved, median of N rounds, each app with a profile of its own
made by a first, uncounted start:

    (a) launch to the window's first paint, from the venv and from the build;
    (b) launch to /api/v1/health answering, the same two ways.

Also printed: the build's size on disk (the unpacked folder, the tarball) and
the venv's (site-packages and the interpreter it runs on) for comparison.

    .venv/bin/python -m bench.package [--rounds 10]

Target: the build <= 1.2x the venv for (a) and (b).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

from bench.api import free_port
from bench.startup import compile_both, time_atom
from tests.support.secret_service import running_secret_service
from tests.support.x_display import running_display

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def build() -> tuple[Path, str]:
    """The tarball of a build of these sources, and what the build script said."""
    done = subprocess.run(
        [str(ROOT / "packaging" / "build-linux"), "--reuse"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"packaging/build-linux failed:\n{done.stdout}\n{done.stderr}")
    lines = done.stdout.strip().splitlines()
    executable = Path(lines[-1])
    tarballs = list(executable.parent.parent.parent.glob("atom-desktop-*-linux-*.tar.gz"))
    if len(tarballs) != 1:
        raise RuntimeError(f"expected one tarball beside the build, found {tarballs}")
    return tarballs[0], lines[-2]


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links not followed)."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    compile_both()
    tarball, build_line = build()
    with tempfile.TemporaryDirectory(prefix="atom-bench-package-") as tmp:
        root = Path(tmp)
        with tarfile.open(tarball) as archive:
            archive.extractall(root / "apps", filter="tar")
        executable = root / "apps" / "atom-desktop" / "atom-desktop"
        build_size = folder_size(executable.parent)
        programs = {"venv": (sys.executable, "-m", "atom_desktop"), "build": (str(executable),)}
        shown: dict[str, list[float]] = {name: [] for name in programs}
        ready: dict[str, list[float]] = {name: [] for name in programs}
        with running_secret_service(root / "keyring"), running_display() as display:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
            env.update(display.env(), ATOM_PORT=str(port), ATOM_LOG_LEVEL="INFO")
            for name, program in programs.items():
                # First start: makes the key, token and database.
                time_atom(env, root / name, port, program)
            for round_ in range(args.rounds):
                for name, program in programs.items():
                    window, api = time_atom(env, root / name, port, program)
                    shown[name].append(window)
                    ready[name].append(api)
                print(f"round {round_ + 1}/{args.rounds}", flush=True)

    site = Path(sysconfig.get_paths()["purelib"])
    venv_size = folder_size(site)
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; median of {args.rounds} rounds, interleaved"
    )
    print(build_line)
    print()
    print("| measure | venv | build | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for what, figures in (("launch to window painted", shown), ("launch to /health", ready)):
        venv, built = statistics.median(figures["venv"]), statistics.median(figures["build"])
        ratio = statistics.median(
            b / a for a, b in zip(figures["venv"], figures["build"], strict=True)
        )
        verdict = "met" if ratio <= 1.2 else "MISSED"
        print(
            f"| {what} | {venv * 1000:.0f} ms | {built * 1000:.0f} ms | {ratio:.2f}x "
            f"| <= 1.2x {verdict} |"
        )
    print(
        f"| size on disk | {venv_size / MIB:.0f} MiB (the venv's site-packages, with the "
        f"test tools; no interpreter) | {build_size / MIB:.0f} MiB (folder), "
        f"{tarball.stat().st_size / MIB:.0f} MiB (tarball) | | |"
    )


if __name__ == "__main__":
    main()
