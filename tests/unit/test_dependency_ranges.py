"""Every declared dependency range is closed at both ends; the checkers are pinned.

Without a ceiling, a release nobody here has tried arrives in CI and in new
installs with no change of ours; a checker (ruff, mypy, type stubs) can then
fail the suite on unchanged code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
)

#: Tools whose verdict on unchanged code can change with any release of theirs.
CHECKERS = ("mypy", "ruff", "types-psutil")


def all_requirements() -> list[str]:
    project = PYPROJECT["project"]
    groups = project.get("optional-dependencies", {}).values()
    return [
        *PYPROJECT["build-system"]["requires"],
        *project["dependencies"],
        *(text for group in groups for text in group),
    ]


@pytest.mark.parametrize("text", all_requirements())
def test_every_requirement_has_a_floor_and_a_ceiling(text: str) -> None:
    operators = {spec.operator for spec in Requirement(text).specifier}
    assert operators & {">=", "==", "~=", "==="}, f"{text} has no floor"
    assert operators & {"<", "<=", "==", "~=", "==="}, f"{text} has no ceiling"


@pytest.mark.parametrize("name", CHECKERS)
def test_the_checkers_are_pinned_to_one_release(name: str) -> None:
    found = [Requirement(t) for t in all_requirements() if Requirement(t).name == name]
    assert len(found) == 1, f"{name} is not among the test requirements"
    specs = list(found[0].specifier)
    assert len(specs) == 1, f"{found[0]} allows more than one release"
    assert specs[0].operator == "==", f"{found[0]} allows more than one release"
    assert not specs[0].version.endswith("*"), f"{found[0]} allows more than one release"
