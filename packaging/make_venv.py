"""Make (or reuse) the packaging tools' virtual environment and print its Python.

    python3 packaging/make_venv.py          # prints the path of the venv's python

The environment is build/packaging-venv (PACKAGING_VENV overrides it), with
exactly the versions in packaging/requirements-briefcase.txt. It is kept apart from the
project's .venv on purpose: Briefcase brings httpx2 and other packages that
change what the app's test environment imports. A stamp records the
requirements' hash and the Python version; while both are unchanged the
environment is reused as is, otherwise it is made anew. A lock file makes
parallel callers (the test workers of ``pytest -n``) wait for one another
instead of building the same folder at once.

Runs on Linux, macOS and Windows with the standard library only. (Not named
venv.py: run as a script, it would shadow the standard library's venv.)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "packaging" / "requirements-briefcase.txt"
DEFAULT_VENV = ROOT / "build" / "packaging-venv"
STAMP_NAME = ".packaging-requirements"


def venv_python(where: Path) -> Path:
    """The interpreter of the virtual environment at ``where``."""
    if sys.platform == "win32":
        return where / "Scripts" / "python.exe"
    return where / "bin" / "python"


def wanted_stamp(requirements: Path = REQUIREMENTS) -> str:
    """What the stamp must say for an environment to be reused."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    version = ".".join(str(n) for n in sys.version_info[:3])
    return f"{digest} python-{version} {sys.platform}\n"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an OS lock on ``lock_path``; it is released when the process ends."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+b") as handle:
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415

            # LK_LOCK gives up after ten seconds of retries; a first install
            # takes longer than that, so keep asking.
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl  # noqa: PLC0415

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure(where: Path = DEFAULT_VENV, requirements: Path = REQUIREMENTS) -> Path:
    """Make the environment at ``where`` unless its stamp is current; return its python."""
    stamp = where / STAMP_NAME
    wanted = wanted_stamp(requirements)
    with _locked(where.with_name(where.name + ".lock")):
        if stamp.is_file() and stamp.read_text() == wanted and venv_python(where).exists():
            return venv_python(where)
        if where.exists():
            sys.stderr.write(f"packaging/make_venv.py: requirements changed, making {where} anew\n")
            shutil.rmtree(where)
        else:
            sys.stderr.write(f"packaging/make_venv.py: making {where}\n")
        venv.EnvBuilder(with_pip=True).create(where)
        python = venv_python(where)
        # The venv's own pip, installing the pinned requirements file.
        subprocess.run(  # noqa: S603
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--requirement",
                str(requirements),
            ],
            check=True,
        )
        # Written last: an install that failed half-way is redone next time.
        stamp.write_text(wanted)
        return python


def main() -> int:
    """Print the packaging environment's python, making the environment if needed."""
    where = Path(os.environ.get("PACKAGING_VENV") or DEFAULT_VENV).resolve()
    try:
        python = ensure(where)
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(f"packaging/make_venv.py: pip failed ({exc.returncode}); see above\n")
        return 1
    sys.stdout.write(f"{python}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
