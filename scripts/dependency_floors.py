"""Check that ATOM Desktop installs and serves with the lowest versions it declares.

A floor in pyproject.toml (``fastapi>=0.142``) is a promise that nobody tests
by accident: every environment resolves to the newest releases. This script
keeps it honest. It reads the floors from pyproject.toml (so the check can
never drift from what is declared) and, on the lowest supported Python,
installs exactly those versions from wheels (what they need in turn comes at
its newest): the build requirements into one environment, the runtime ones
into another, with nothing else (no setuptools beside the app unless a floor
brings it). It builds the project with the build floors, installs it beside
the runtime floors, imports every module, then starts ``atom-desktop serve``
as at a first start (a throwaway profile, a real gnome-keyring on a private
D-Bus session for the key and the token), waits for ``/api/v1/health``, gets
a docs asset, adds and lists a task and runs a command through the client,
and stops the agent with SIGTERM, expecting exit code 0.

Installing the floors takes a minute or more (PySide6 alone is ~90 MB), so
the environments are kept in the user's cache directory and rebuilt only
when a floor or the interpreter changes; the project is rebuilt and the agent
started on every run. Building them needs the package index: when it cannot
be reached the check fails and says so.

    python scripts/dependency_floors.py             # the check (scripts/test runs it)
    python scripts/dependency_floors.py constraints # print the floors as pip constraints

Environment: ``ATOM_FLOORS_DIR`` puts the cached environments elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
#: Bumped when the way the environment is built changes, so old ones are rebuilt.
_LAYOUT = "2"
_STAMP = "atom-desktop-floors.json"
#: The build environment (build floors) and the runtime one (runtime floors and the app).
_VENVS = ("build", "venv")
_HEALTH_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 30.0
#: Operators whose version is the lowest the requirement allows.
_FLOOR_OPERATORS = (">=", "==", "~=", "===")


class FloorError(Exception):
    """A requirement without a usable floor, or a step of the check that failed."""


@dataclass(frozen=True, slots=True)
class Floor:
    """The lowest allowed version of one requirement, under its environment marker."""

    name: str
    version: str
    marker: str | None
    source: str

    def constraint(self) -> str:
        """The pip constraint line that pins this requirement to its floor."""
        line = f"{self.name}=={self.version}"
        return f"{line}; {self.marker}" if self.marker else line


def floor_of(text: str) -> Floor:
    """The floor of one requirement string; a requirement without one is an error.

    Only a lower bound says what the oldest supported release is: ``<2``
    alone or ``!=1.3`` alone leave it open, and ``>1.2`` names no release.
    """
    req = Requirement(text)
    floors = [spec.version for spec in req.specifier if spec.operator in _FLOOR_OPERATORS]
    if not floors:
        raise FloorError(f"{text!r} declares no lower bound (>=, ~= or ==): give it a floor")
    if len(floors) > 1:
        raise FloorError(f"{text!r} declares more than one lower bound")
    version = floors[0]
    if not req.specifier.contains(version, prereleases=True):
        raise FloorError(f"{text!r}: its floor {version} is excluded by its own range")
    marker = str(req.marker) if req.marker is not None else None
    return Floor(req.name, version, marker, text)


def read_floors(pyproject: Path) -> tuple[list[Floor], list[Floor]]:
    """The floors of the runtime dependencies, and of the build requirements."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    runtime = [floor_of(text) for text in data.get("project", {}).get("dependencies", [])]
    build = [floor_of(text) for text in data.get("build-system", {}).get("requires", [])]
    return runtime, build


def constraints_text(floors: Sequence[Floor]) -> str:
    """A pip constraints file with every floor pinned (markers kept)."""
    return "".join(f"{floor.constraint()}\n" for floor in floors)


# -- the environment -------------------------------------------------------------


def _cache_dir() -> Path:
    if explicit := os.environ.get("ATOM_FLOORS_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "atom-desktop" / "dependency-floors"


def _lowest_python(pyproject: Path) -> str:
    """An interpreter of the lowest Python the project supports, else this one.

    The floors are wheels for that Python: a newer one may need newer releases.
    """
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found = re.search(r">=\s*3\.(\d+)", data.get("project", {}).get("requires-python", ""))
    if found:
        candidate = shutil.which(f"python3.{found.group(1)}")
        if candidate:
            return candidate
        print(f"  python3.{found.group(1)} not found; using {sys.version.split()[0]}")
    return getattr(sys, "_base_executable", sys.executable)


#: What pip prints when it cannot reach an index at all (as opposed to a
#: release that is not there): DNS, refused or reset connections, timeouts.
_UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "Connection refused",
    "Could not fetch URL",
)


def _run(
    argv: Sequence[str], what: str, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run a step; on failure raise with the end of its output (pip says a lot)."""
    result = subprocess.run(
        argv, capture_output=True, text=True, check=False, env=env, cwd=cwd,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        # Machines with a pip configuration that names missing local indexes
        # print a line per package about it; they hide the actual error.
        output = [line for line in output if "is ignored: it is neither" not in line]
        tail = "\n".join(output[-40:])
        if any(sign in line for line in output for sign in _UNREACHABLE):
            # Said first and plainly: "No matching distribution" alone reads
            # as a floor that does not exist, which is the other failure.
            raise FloorError(
                f"{what} failed: the package index could not be reached. The check needs "
                "it to build its environment (the first time, and whenever a floor "
                f"changes); it was not skipped.\n{tail}"
            )
        raise FloorError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def _pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    return env


def _stamp_key(floors: Sequence[Floor], python: str) -> str:
    """What the cached environment is made of: the layout, the interpreter, the floors.

    Keyed by the floors rather than the whole pyproject.toml, so that an edit
    of a tool's settings there does not reinstall ~150 MB of wheels.
    """
    version = _run(
        [python, "-c", "import sys; print(sys.version)"], "asking the interpreter its version"
    )
    digest = hashlib.sha256(constraints_text(floors).encode()).hexdigest()
    return f"{_LAYOUT} {python} {version.strip()} {digest}"


def _source_copy(pyproject: Path, into: Path) -> Path:
    """Copy what a build of the project reads, so the build writes nothing into the checkout.

    setuptools builds in the source tree (build/, *.egg-info); other builds
    of the same checkout may be running at the same time.
    """
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    root = pyproject.parent
    tool = data.get("tool", {}).get("setuptools", {})
    # The top folder of every package, and every folder a package is mapped to.
    tops = {name.split(".")[0] for name in tool.get("packages", [])}
    tops |= {Path(path).parts[0] for path in tool.get("package-dir", {}).values()}
    into.mkdir(parents=True)
    shutil.copy2(pyproject, into / "pyproject.toml")
    readme = data.get("project", {}).get("readme")
    if isinstance(readme, str):
        shutil.copy2(root / readme, into / readme)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in sorted(tops):
        if (root / top).is_dir():
            shutil.copytree(root / top, into / top, ignore=ignore)
    return into


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One check at a time per cache: a second one waits rather than rebuild under it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _index_url() -> str:
    """The index pip installs from: PIP_INDEX_URL, else its configuration, else PyPI."""
    if explicit := os.environ.get("PIP_INDEX_URL"):
        return explicit
    listing = _run(
        [sys.executable, "-m", "pip", "config", "list"], "reading pip's configuration",
        env=_pip_env(),
    )  # fmt: skip
    # Listed from the lowest precedence (global) to the highest: the last one wins.
    found = re.findall(r"^[^=\s]*\.index-url='([^']*)'$", listing, flags=re.MULTILINE)
    return found[-1] if found else "https://pypi.org/simple"


def _check_index_reachable() -> None:
    """Fail at once, and plainly, when the package index cannot be reached.

    pip reports a connection it could not make as "No matching distribution"
    (with retries off, with nothing else), which reads as a floor that does
    not exist: the other failure this check looks for.
    """
    index = _index_url()
    url = f"{index.rstrip('/')}/setuptools/"
    try:
        with urllib.request.urlopen(url, timeout=30):  # noqa: S310 - pip's own index
            pass
    except urllib.error.HTTPError:
        return  # it answered: reachable (pip judges the answer)
    except (OSError, ValueError) as exc:
        raise FloorError(
            f"the package index {index} could not be reached ({exc}). The check needs it "
            "to build its environment (the first time, and whenever a floor changes); "
            "it was not skipped."
        ) from None


def ensure_environments(
    cache: Path, runtime: Sequence[Floor], build: Sequence[Floor], key: str, python: str
) -> bool:
    """Make the build and runtime environments hold exactly the floors; True if (re)built.

    Two environments, because the build's setuptools must not sit beside the
    app: setuptools brings ``pkg_resources``, and a dependency that still
    imports it (APScheduler before 3.10.2) would pass here and fail wherever
    setuptools is absent (every Python 3.12+ venv) or newer (81 dropped it).
    Skipped when the stamp says the floors are unchanged.
    """
    stamp = cache / _STAMP
    if stamp.exists() and all((cache / name / "bin" / "python").exists() for name in _VENVS):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(stamp.read_text(encoding="utf-8")).get("key") == key:
                return False
    _check_index_reachable()
    # From scratch: installing new pins over old ones would leave packages
    # that the floors no longer bring.
    stamp.unlink(missing_ok=True)
    for name, floors in (("build", build), ("venv", runtime)):
        venv = cache / name
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", str(venv)], f"making the {name} environment")
        vpy = str(venv / "bin" / "python")
        # Python 3.11's venv ships setuptools; only what the floors bring may be there.
        _run([vpy, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], "removing setuptools",
             env=_pip_env())  # fmt: skip
        constraints = venv / "constraints.txt"
        constraints.write_text(constraints_text(floors), encoding="utf-8")
        _run(
            [vpy, "-m", "pip", "install", "-q", "--only-binary=:all:", "-c", str(constraints),
             *(floor.source for floor in floors)],
            f"installing the {'build ' if name == 'build' else ''}floors",
            env=_pip_env(),
        )  # fmt: skip
    stamp.write_text(json.dumps({"key": key}) + "\n", encoding="utf-8")
    return True


def install_project(cache: Path, pyproject: Path, scratch: Path) -> None:
    """Build the project with the build floors, install it (alone) beside the runtime floors."""
    source = _source_copy(pyproject, scratch / "source")
    dist = scratch / "dist"
    # No build isolation: the build uses exactly the build floors, so a
    # floor too low to build the project (setuptools < 77 and license = "MIT")
    # fails here.
    _run(
        [str(cache / "build" / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps",
         "--no-build-isolation", "-w", str(dist), str(source)],
        "building the project with the build floors",
        env=_pip_env(),
    )  # fmt: skip
    wheels = sorted(dist.glob("*.whl"))
    if len(wheels) != 1:
        raise FloorError(f"the build made {len(wheels)} wheels, not one: {wheels}")
    _run(
        [str(cache / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
         "--force-reinstall", str(wheels[0])],
        "installing the project beside the floors",
        env=_pip_env(),
    )  # fmt: skip


#: What pip's markers are evaluated against, computed by the environment's own
#: interpreter (it may be another Python than the one running this script).
_MARKER_ENVIRONMENT = """
import json, os, platform, sys
info = sys.implementation.version
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": f"{info.major}.{info.minor}.{info.micro}",
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""


def check_versions(venv: Path, floors: Sequence[Floor]) -> None:
    """Every requirement that applies there is installed at exactly its floor."""
    vpy = str(venv / "bin" / "python")
    environment = json.loads(_run([vpy, "-c", _MARKER_ENVIRONMENT], "reading the markers"))
    listing = _run(
        [vpy, "-m", "pip", "list", "--format=json"], "listing installed packages", env=_pip_env()
    )
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listing)}
    wrong = []
    for floor in floors:
        if floor.marker is not None and not Marker(floor.marker).evaluate(environment):
            continue
        have = installed.get(canonicalize_name(floor.name))
        if have is None or Version(have) != Version(floor.version):
            wrong.append(f"{floor.name} {have or 'missing'} (floor {floor.version})")
    if wrong:
        raise FloorError("not installed at their floors: " + ", ".join(wrong))


#: Imports every module of the app, the window's included (offscreen): a name
#: that an older release lacks (``from fastapi.telemetry import ...``) fails
#: here even where serve would not reach it. ``__main__`` runs the app, and
#: the migrations' env.py files run only inside alembic.
_IMPORT_ALL = """
import importlib, pkgutil, atom_desktop
skip = {
    "atom_desktop.__main__",
    "atom_desktop.store.migrations.env",
    "atom_desktop.sync.server.migrations.env",
}
for module in pkgutil.walk_packages(atom_desktop.__path__, "atom_desktop."):
    if module.name not in skip:
        importlib.import_module(module.name)
if "site-packages" not in atom_desktop.__file__:
    raise SystemExit(f"imported {atom_desktop.__file__}, not the installed project")
"""


def import_everything(venv: Path, scratch: Path) -> None:
    """Every module of the app imports at the floors."""
    env = _agent_env(scratch / "import-home") | {"QT_QPA_PLATFORM": "offscreen"}
    # Not from the checkout: ``python -c`` puts its working directory first on sys.path.
    _run(
        [str(venv / "bin" / "python"), "-c", _IMPORT_ALL],
        "importing every module",
        env=env,
        cwd=scratch,
    )


# -- the agent ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _agent_env(home: Path) -> dict[str, str]:
    """Nothing of the developer's: their settings, keyring, display or home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATOM_", "XDG_", "PYTHON"))}
    for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def _secret_service(home: Path) -> contextlib.AbstractContextManager[Any]:
    """The tests' private D-Bus session with an unlocked gnome-keyring (one way to start it)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.secret_service import running_secret_service  # noqa: PLC0415

    return running_secret_service(home)


def serve_once(venv: Path, scratch: Path) -> float:
    """Start ``atom-desktop serve`` as at a first start, use it through the client, stop it.

    The keyring is real (gnome-keyring on a private D-Bus session), so the
    database key and the owner token go where they go on a desktop, through
    keyring and its Secret Service backend at their floors; a docs asset is
    fetched (swagger-ui-bundle); the client commands add and list a task
    (httpx, the API, the encrypted store) and run a command (the runner and
    its output stream). Returns the seconds until ``/api/v1/health`` answered.
    """
    with contextlib.ExitStack() as stack:
        try:
            session = stack.enter_context(_secret_service(scratch / "keyring"))
        except RuntimeError as exc:
            raise FloorError(f"could not start the Secret Service for the check: {exc}") from None
        port = _free_port()
        env = _agent_env(scratch / "home") | {
            "ATOM_DATA_DIR": str(scratch / "data"),
            "ATOM_CONFIG_DIR": str(scratch / "config"),
            "ATOM_PORT": str(port),
            "ATOM_KEY_STORAGE": "keyring",  # a key file instead would be a failure here
            "DBUS_SESSION_BUS_ADDRESS": session.env["DBUS_SESSION_BUS_ADDRESS"],
        }
        return _serve_and_use(venv, scratch, env, port)


def _serve_and_use(venv: Path, scratch: Path, env: dict[str, str], port: int) -> float:
    log_path = scratch / "serve.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "atom-desktop"), "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=scratch,
        )
    try:
        healthy_after, health = _wait_healthy(proc, port, started)
        if health.get("key_storage") != "keyring":
            raise FloorError(f"the database key is not in the keyring: /health says {health}")
        # The docs' assets come from swagger-ui-bundle, served by Starlette's StaticFiles.
        _expect_ok(port, "/docs/assets/swagger-ui-bundle.js")
        client = [str(venv / "bin" / "atom-desktop")]
        _client([*client, "tasks", "add", "floors check"], env, scratch)
        if "floors check" not in _client([*client, "tasks", "list"], env, scratch):
            raise FloorError("tasks list does not show the task just added")
        if "floors-ok" not in _client([*client, "run", "--", "echo", "floors-ok"], env, scratch):
            raise FloorError("run -- echo floors-ok did not print floors-ok")
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise FloorError(
                f"serve did not stop within {_STOP_TIMEOUT_S:.0f} s of SIGTERM"
            ) from None
        if code != 0:
            raise FloorError(f"serve exited with {code} after SIGTERM, not 0")
        if "Traceback (most recent call last)" in log_path.read_text(errors="replace"):
            raise FloorError("serve printed a traceback")
        return healthy_after
    except FloorError as exc:
        lines = log_path.read_text(errors="replace").splitlines()
        raise FloorError(f"{exc}\nserve's output:\n" + "\n".join(lines[-40:])) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _expect_ok(port: int, path: str) -> None:
    """GET a path that needs no token; anything but 200 fails the check."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
    except (OSError, ValueError) as exc:
        raise FloorError(f"GET {path} failed: {exc}") from None


def _client(argv: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    """Run a client command of the app; its output, or a FloorError saying what it printed."""
    try:
        result = subprocess.run(
            argv, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=60,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise FloorError(f"{' '.join(argv[1:])} did not finish within 60 s") from None
    if result.returncode != 0:
        raise FloorError(
            f"{' '.join(argv[1:])} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def _wait_healthy(
    proc: subprocess.Popen[bytes], port: int, started: float
) -> tuple[float, dict[str, Any]]:
    """Poll ``/api/v1/health`` until it says ok; the seconds it took and its answer."""
    url = f"http://127.0.0.1:{port}/api/v1/health"
    last = "no answer yet"
    while time.monotonic() - started < _HEALTH_TIMEOUT_S:
        if proc.poll() is not None:
            raise FloorError(f"serve exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
                if response.status == 200 and body.get("status") == "ok":
                    return time.monotonic() - started, body
                last = f"HTTP {response.status}: {body}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise FloorError(f"{url} was not healthy within {_HEALTH_TIMEOUT_S:.0f} s ({last})")


# -- the command ----------------------------------------------------------------------


def check(pyproject: Path) -> None:
    """The whole check, printing what it does and how long each part took."""
    runtime, build = read_floors(pyproject)
    python = _lowest_python(pyproject)
    cache = _cache_dir()
    with _locked(cache), tempfile.TemporaryDirectory(prefix="atom-floors-") as tmp:
        scratch = Path(tmp)
        began = time.monotonic()
        key = _stamp_key([*runtime, *build], python)
        if ensure_environments(cache, runtime, build, key, python):
            took = time.monotonic() - began
            print(f"  installed {len(runtime) + len(build)} floors in {cache} ({took:.0f} s)")
        else:
            print(f"  the floors are installed in {cache} already (unchanged)")
        began = time.monotonic()
        install_project(cache, pyproject, scratch)
        check_versions(cache / "build", build)
        check_versions(cache / "venv", runtime)
        import_everything(cache / "venv", scratch)
        print(f"  built the project, installed and imported it in {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        healthy = serve_once(cache / "venv", scratch)
        print(
            f"  serve answered /api/v1/health after {healthy:.1f} s with the key in the keyring; "
            f"tasks add, tasks list and run worked; it exited 0 on SIGTERM "
            f"({time.monotonic() - began:.1f} s)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", nargs="?", choices=("check", "constraints"), default="check")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    try:
        if args.command == "constraints":
            runtime, build = read_floors(args.pyproject)
            sys.stdout.write(constraints_text([*runtime, *build]))
        else:
            check(args.pyproject)
    except FloorError as exc:
        print(f"dependency floors: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
