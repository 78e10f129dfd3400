"""scripts/dependency_floors.py: the floors it reads, and how it fails.

The script itself (installing every floor and starting the agent on them)
runs in ./scripts/test; these tests cover how it reads pyproject.toml and how
it fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dependency_floors.py"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )


def test_the_constraints_pin_every_runtime_and_build_requirement_at_its_floor() -> None:
    result = run_script("constraints")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "fastapi==0.142" in lines
    assert "setuptools==77.0.1" in lines
    assert 'PySide6-Essentials==6.8; python_version < "3.12"' in lines
    project = PYPROJECT["project"]
    runtime = project["dependencies"] + PYPROJECT["build-system"]["requires"]
    assert len(lines) == len(runtime)
    # The test tools are not part of what the app needs.
    assert not any(line.startswith(("pytest", "ruff", "mypy")) for line in lines)


def test_a_requirement_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[build-system]\nrequires = ["setuptools>=77.0.1", "wheel"]\n'
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["httpx>=0.27,<1"]\n',
        encoding="utf-8",
    )
    result = run_script("constraints", "--pyproject", str(pyproject))
    assert result.returncode == 1
    assert "'wheel' declares no lower bound" in result.stderr


def test_an_unreachable_package_index_fails_the_check_and_says_so(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[build-system]\nrequires = ["setuptools>=77.0.1"]\n'
        '[project]\nname = "x"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["httpx>=0.27"]\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {
        "ATOM_FLOORS_DIR": str(tmp_path / "floors"),
        "PIP_CONFIG_FILE": "/dev/null",  # no index the machine's pip configuration names
        "PIP_INDEX_URL": f"http://127.0.0.1:{closed}/simple",
        "PIP_RETRIES": "0",
    }
    result = run_script("check", "--pyproject", str(pyproject), env=env)
    assert result.returncode == 1
    assert f"the package index http://127.0.0.1:{closed}/simple could not be reached" in (
        result.stderr
    )
    assert "it was not skipped" in result.stderr
