"""The agent imports on a system without POSIX-only modules (as on Windows).

Each check runs in a fresh interpreter in which our own modules cannot
import ``fcntl``, ``termios``, ``pty``, ``tty`` or ``resource``: a
replacement ``__import__`` refuses them when the importing module is one of
ours. Third-party libraries are left alone, since each picks its own
backend per system (psutil's Linux backend imports ``resource``, its
Windows one does not), so refusing the modules to them would test Linux
libraries on a Windows that does not exist. A module of ours that imports
one of them at its top level then fails to import, which is what would
happen on Windows; importing them inside a POSIX-only function is fine.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

POSIX_ONLY = ("fcntl", "termios", "pty", "tty", "resource")

# The agent's entry points, one per service package; the walk below adds every other module.
ENTRY_POINTS = (
    "atom_desktop.runtime",
    "atom_desktop.cli",
    "atom_desktop.api.app",
    "atom_desktop.runner.service",
    "atom_desktop.automations.service",
    "atom_desktop.integrations.service",
    "atom_desktop.sync.service",
)

_GUARD = """
import builtins

POSIX_ONLY = {posix_only!r}
_real_import = builtins.__import__


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {{}}).get("__name__") or ""
    ours = importer == "atom_desktop" or importer.startswith("atom_desktop.")
    if ours and level == 0 and name.partition(".")[0] in POSIX_ONLY:
        refusal = f"{{importer}} imports {{name}}, which this system does not have"
        raise ImportError(refusal, name=name)
    return _real_import(name, globals, locals, fromlist, level)


if {blocked!r}:
    builtins.__import__ = _guarded_import
"""

_IMPORT_ALL = """
import importlib
import pkgutil

import atom_desktop

for name in {entry_points!r}:
    importlib.import_module(name)
# Every other module too, except the window (Qt), the resources, the migration
# scripts (alembic runs those) and __main__ (importing it starts the program).
for info in pkgutil.walk_packages(atom_desktop.__path__, "atom_desktop."):
    skipped = ("atom_desktop.gui", "atom_desktop.resources", "atom_desktop.__main__")
    if info.name.startswith(skipped) or ".migrations" in info.name:
        continue
    importlib.import_module(info.name)
print("imported")
"""


def _import_agent(*, blocked: bool) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(_GUARD).format(posix_only=POSIX_ONLY, blocked=blocked)
    script += textwrap.dedent(_IMPORT_ALL).format(entry_points=ENTRY_POINTS)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=100, check=False
    )


@pytest.mark.parametrize("blocked", [True, False], ids=["without-posix-modules", "as-is"])
def test_the_whole_agent_imports(blocked: bool) -> None:
    result = _import_agent(blocked=blocked)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"


def test_the_guard_refuses_a_top_level_import_of_ours() -> None:
    # Shows the check above can fail: the guard refuses fcntl to a module of ours.
    script = textwrap.dedent(_GUARD).format(posix_only=POSIX_ONLY, blocked=True)
    script += "exec('import fcntl', {'__name__': 'atom_desktop.example'})\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "atom_desktop.example imports fcntl" in result.stderr
