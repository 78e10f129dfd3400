"""briefcase.toml, staged by packaging/briefcase_stage.py, is accepted by Briefcase's own loader.

Briefcase lives in its own environment (build/packaging-venv, from
packaging/requirements-briefcase.txt, made once and reused while the pins are
unchanged): installed into the test environment it would bring httpx2 and
other packages that change what the app imports. So these tests run the
packaging scripts with that environment's Python, and the check
(packaging/briefcase_check.py) calls Briefcase's ``parse_config`` for the
Windows, macOS and Linux targets, as ``briefcase package`` does when it
starts. Broken copies of briefcase.toml prove that a wrong file fails, either
in the staging script's own checks or in Briefcase's.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import atom_desktop

ROOT = Path(__file__).resolve().parents[3]
PACKAGING = ROOT / "packaging"
BRIEFCASE_TOML = ROOT / "briefcase.toml"
TARGETS = ("windows app", "macOS app", "linux system")

# The first test on a fresh clone makes the packaging environment (the
# package index is needed then); later runs reuse it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Outcome:
    """What staging a briefcase.toml and loading it with Briefcase came to."""

    code: int  # 0, or the exit code of the step that failed
    step: str  # "stage", "briefcase", or "" when both passed
    output: str  # what the scripts printed (Briefcase's warnings included)
    report: dict[str, Any]  # packaging/briefcase_check.py's report, per target
    folder: Path  # the staging folder


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=ROOT
    )


@pytest.fixture(scope="module")
def packaging_python() -> Path:
    """The packaging environment's Python (made by packaging/make_venv.py if needed)."""
    result = _run(sys.executable, PACKAGING / "make_venv.py")
    assert result.returncode == 0, result.stderr
    python = Path(result.stdout.strip().splitlines()[-1])
    assert python.exists()
    return python


def stage_and_check(python: Path, config: Path, out: Path) -> Outcome:
    """Stage ``config`` into ``out`` and load the result with Briefcase's loader."""
    staged = _run(python, PACKAGING / "briefcase_stage.py", "--config", config, "--out", out)
    if staged.returncode != 0:
        return Outcome(staged.returncode, "stage", staged.stdout + staged.stderr, {}, out)
    report_path = out.parent / f"{out.name}-report.json"
    checked = _run(
        python, PACKAGING / "briefcase_check.py", out / "pyproject.toml", "--report", report_path
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    output = staged.stderr + checked.stdout + checked.stderr
    step = "briefcase" if checked.returncode else ""
    return Outcome(checked.returncode, step, output, report, out)


@pytest.fixture(scope="module")
def staged(packaging_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The real briefcase.toml, staged and loaded once for this module."""
    outcome = stage_and_check(
        packaging_python, BRIEFCASE_TOML, tmp_path_factory.mktemp("briefcase") / "stage"
    )
    assert outcome.code == 0, (outcome.output, outcome.report)
    return outcome


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def _metainfo_id() -> str:
    root = ET.parse(ROOT / "resources" / "org.atom.desktop.metainfo.xml").getroot()
    return (root.findtext("id") or "").strip()


@pytest.mark.parametrize("target", TARGETS, ids=[t.replace(" ", "-") for t in TARGETS])
def test_briefcase_loader_accepts_the_staged_configuration(staged: Outcome, target: str) -> None:
    app = staged.report[target]["apps"]["desktop"]
    assert app["bundle_identifier"] == _metainfo_id() == "org.atom.desktop"
    assert app["formal_name"] == "ATOM Desktop"
    assert app["version"] == atom_desktop.__version__
    # Briefcase adds the project's dependencies to requires itself: nothing
    # else, and none missing.
    assert app["requires"] == _project()["dependencies"]
    assert app["license"] == _project()["license"]
    assert app["sources"] == ["src/atom_desktop", "src/desktop"]
    assert app["console_app"] is False
    # Long descriptions are truncated by some installers; Briefcase warns
    # about that and about invalid names, and any warning fails here.
    assert "WARNING" not in staged.output


def test_platform_tables_reach_their_platform_only(staged: Outcome) -> None:
    mac = staged.report["macOS app"]["apps"]["desktop"]
    windows = staged.report["windows app"]["apps"]["desktop"]
    assert mac["min_os_version"] == "12.0"
    assert mac["universal_build"] is False
    assert windows["system_installer"] is False
    assert "system_installer" not in mac
    assert "min_os_version" not in windows


def test_staged_sources_start_the_app_and_carry_its_resources(staged: Outcome) -> None:
    src = staged.folder / "src"
    launcher = (src / "desktop" / "__main__.py").read_text()
    assert "from atom_desktop.cli import main" in launcher
    assert (src / "atom_desktop" / "__init__.py").read_text() == (
        ROOT / "atom_desktop" / "__init__.py"
    ).read_text()
    # atom_desktop.resources, as the installed wheel has it.
    assert (src / "atom_desktop" / "resources" / "org.atom.desktop.metainfo.xml").is_file()
    assert not list(src.rglob("__pycache__"))
    # Briefcase's Linux system package refuses to build without a changelog.
    assert atom_desktop.__version__ in (staged.folder / "CHANGELOG").read_text()


def test_the_staged_launcher_starts_the_staged_app(staged: Outcome, tmp_path: Path) -> None:
    # What Briefcase's stub does: run the module named like the app, with
    # the bundle's sources first on the path (the test environment provides
    # the dependencies that the bundle's app_packages would).
    src = staged.folder / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    probe = "import atom_desktop.resources as r; print(r.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(src)
    started = subprocess.run(
        [sys.executable, "-m", "desktop", "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert (started.returncode, started.stdout.strip()) == (
        0,
        f"atom-desktop {atom_desktop.__version__}",
    ), started.stderr


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _ico_sizes(path: Path) -> list[int]:
    data = path.read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1), path
    # A width byte of 0 means 256.
    return sorted(data[6 + 16 * i] or 256 for i in range(count))


def _icns_types(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data), path
    types, offset = [], 8
    while offset < len(data):
        kind, length = (
            data[offset : offset + 4],
            struct.unpack(">I", data[offset + 4 : offset + 8])[0],
        )
        types.append(kind)
        offset += length
    return types


def test_icons_are_there_in_every_format_briefcase_asks_for(staged: Outcome) -> None:
    icons = staged.folder / "icons"
    # Linux: the sizes briefcase-linux-system-template installs.
    for size in (16, 32, 64, 128, 256, 512):
        assert _png_size(icons / f"atom-desktop-{size}.png") == (size, size)
    # Windows: one .ico with every size Explorer and the taskbar use.
    assert _ico_sizes(icons / "atom-desktop.ico") == [16, 24, 32, 48, 64, 128, 256]
    # macOS: 128, 256, 512 and 1024 pixel PNG members (ic07 to ic10).
    assert {b"ic07", b"ic08", b"ic09", b"ic10"} <= set(_icns_types(icons / "atom-desktop.icns"))
    # The sizes above resources/icons/hicolor's largest PNG are scaled up, and said so.
    assert "scaled up from the largest: 512, 1024 px" in staged.output


BROKEN: dict[str, tuple[str, str, str]] = {
    # id: (edit, which step refuses, what it says)
    "not-toml": ("append:[app.desktop\n", "stage", "is not valid TOML"),
    "sets-the-version": (
        "replace:[app.desktop]\n=>[app.desktop]\nversion = '9.9'\n",
        "stage",
        "sets version in [app.desktop]",
    ),
    "sets-sources-for-windows": (
        "replace:[app.desktop.windows]\n=>[app.desktop.windows]\nsources = ['src/other']\n",
        "stage",
        "sets sources in [app.desktop.windows]",
    ),
    "sets-requires": (
        "prepend:requires = ['requests']\n",
        "stage",
        "sets requires in the top level",
    ),
    "other-bundle": (
        'replace:bundle = "org.atom"=>bundle = "com.example"',
        "stage",
        "resources/org.atom.desktop.metainfo.xml says 'org.atom.desktop'",
    ),
    "two-apps": ("append:[app.other]\nformal_name = 'Other'\n", "stage", "exactly one [app.NAME]"),
    "unknown-env-manager": (
        "replace:[app.desktop]\n=>[app.desktop]\nenv_manager = 'pipenv'\n",
        "briefcase",
        "Unknown environment manager 'pipenv'",
    ),
    "bad-document-type": (
        "append:[app.desktop.document_type.notes]\ndescription = 'Notes'\n",
        "briefcase",
        "Document type 'notes' does not provide an extension",
    ),
    "macos-only-mistake": (
        "replace:[app.desktop.macOS]\n=>[app.desktop.macOS]\nenv_manager = 'pipenv'\n",
        "briefcase",
        "Unknown environment manager 'pipenv'",
    ),
}


def _broken_copy(edit: str, target: Path) -> Path:
    text = BRIEFCASE_TOML.read_text()
    how, _, what = edit.partition(":")
    if how == "append":
        text += "\n" + what
    elif how == "prepend":
        text = what + text
    else:
        old, _, new = what.partition("=>")
        assert old in text, f"briefcase.toml no longer has {old!r}: update this test"
        text = text.replace(old, new, 1)
    target.write_text(text)
    return target


@pytest.mark.parametrize("case", sorted(BROKEN), ids=sorted(BROKEN))
def test_a_wrong_briefcase_toml_is_refused(
    packaging_python: Path, tmp_path: Path, case: str
) -> None:
    edit, step, message = BROKEN[case]
    config = _broken_copy(edit, tmp_path / "briefcase.toml")
    outcome = stage_and_check(packaging_python, config, tmp_path / "stage")
    assert (outcome.code, outcome.step) == (1, step), outcome.output
    errors = {target: result.get("error", "") for target, result in outcome.report.items()}
    assert message in outcome.output + "".join(errors.values())
    if case == "macos-only-mistake":
        # The platform tables are read: only the platform whose table is wrong fails.
        assert [target for target, error in errors.items() if error] == ["macOS app"]
    elif step == "briefcase":
        assert all(errors[target] for target in TARGETS)


def test_the_packaging_environment_is_reused_while_its_pins_are_unchanged(
    packaging_python: Path,
) -> None:
    again = _run(sys.executable, PACKAGING / "make_venv.py")
    assert again.returncode == 0
    assert Path(again.stdout.strip()) == packaging_python
    # Nothing was made: a rebuild says so on standard error.
    assert again.stderr == ""
