"""The icons and the desktop entry are found through the installed package.

Also guards the packaging that makes that true: pyproject.toml lists the
packages explicitly (resources/ is mapped to atom_desktop.resources), so a new
package or resource file that is left out of it fails here rather than
silently missing from wheels.
"""

from __future__ import annotations

import fnmatch
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path, PurePosixPath

import pytest

from atom_desktop.resource_files import (
    APP_ICON_SIZES,
    RESOURCE_PACKAGE,
    TRAY_ICON_SIZES,
    TRAY_STATES,
    MissingResourceError,
    app_icon_paths,
    desktop_entry_path,
    resource_path,
    tray_icon_paths,
)

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"


def png_header(path: Path) -> tuple[int, int, int]:
    """Width, height and colour type, read from the PNG's IHDR chunk."""
    data = path.read_bytes()[:26]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[25]


def test_resource_path_finds_the_installed_files() -> None:
    root = files(RESOURCE_PACKAGE)
    assert isinstance(root, Path)
    desktop = desktop_entry_path()
    assert desktop == root / "atom-desktop.desktop"
    assert desktop.read_text().startswith("[Desktop Entry]")
    assert resource_path("icons/tray-error-dark.svg") == root / "icons" / "tray-error-dark.svg"


def test_every_icon_is_found_at_its_size() -> None:
    app = app_icon_paths()
    assert app[0].name == "atom-desktop.svg"
    for size, path in zip(APP_ICON_SIZES, app[1:], strict=True):
        assert png_header(path) == (size, size, 6), path  # 6 = RGBA
    for state in TRAY_STATES:
        for dark, variant in ((False, "light"), (True, "dark")):
            tray = tray_icon_paths(state, dark=dark)
            assert tray[0].name == f"tray-{state}-{variant}.svg"
            for size, path in zip(TRAY_ICON_SIZES, tray[1:], strict=True):
                assert path.name == f"{state}-{variant}-{size}.png"
                assert png_header(path) == (size, size, 6), path


def test_rendered_pngs_are_exactly_the_ones_the_app_knows() -> None:
    # resources/render_icons.py and resource_files.py each name the sizes; a
    # size added to one and not the other shows up here.
    icons = RESOURCES / "icons"
    themed = {p.relative_to(icons).as_posix() for p in icons.glob("hicolor/**/*.png")}
    assert themed == {f"hicolor/{n}x{n}/apps/atom-desktop.png" for n in APP_ICON_SIZES}
    tray = {p.name for p in (icons / "tray").glob("*.png")}
    assert tray == {
        f"{s}-{v}-{n}.png" for s in TRAY_STATES for v in ("light", "dark") for n in TRAY_ICON_SIZES
    }
    svgs = {p.name for p in icons.glob("tray-*.svg")}
    assert svgs == {f"tray-{s}-{v}.svg" for s in TRAY_STATES for v in ("light", "dark")}


@pytest.mark.parametrize(
    "name", ["atom-desktop", *(f"tray-{s}-{v}" for s in TRAY_STATES for v in ("light", "dark"))]
)
def test_svgs_are_well_formed_and_square(name: str) -> None:
    root = ET.parse(resource_path(f"icons/{name}.svg")).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"


def test_found_from_elsewhere_through_the_install_alone(tmp_path: Path) -> None:
    # -I: no current directory or PYTHONPATH on sys.path, so atom_desktop can
    # only come from the installation (editable or wheel) in this interpreter.
    code = (
        "from atom_desktop.resource_files import *\n"
        "paths = [desktop_entry_path(), *app_icon_paths()]\n"
        "paths += [p for s in TRAY_STATES for d in (0, 1) for p in tray_icon_paths(s, dark=d)]\n"
        "assert all(p.is_file() for p in paths), paths\n"
        "print(desktop_entry_path())\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).name == "atom-desktop.desktop"


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../pyproject.toml", "icons/../../x", "a\\b"])
def test_paths_outside_the_resources_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a relative resource path"):
        resource_path(bad)


def test_missing_file_is_a_clear_error() -> None:
    with pytest.raises(MissingResourceError) as caught:
        resource_path("icons/no-such-icon.svg")
    assert "icons/no-such-icon.svg" in str(caught.value)
    assert caught.value.hint is not None
    assert "reinstall" in caught.value.hint


def test_unknown_tray_state_is_refused() -> None:
    with pytest.raises(ValueError, match="no tray icon"):
        tray_icon_paths("sleeping", dark=False)  # type: ignore[arg-type]


# --- The packaging that makes the above work in wheels ----------------------


def setuptools_config() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert isinstance(config, dict)
    return config


def package_dir(package: str, mapping: dict[str, str]) -> Path:
    """Where setuptools takes ``package`` from: the longest mapped prefix wins."""
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in mapping:
            return ROOT / mapping[prefix] / Path(*parts[i:])
    return ROOT / Path(*parts)


def test_every_code_package_is_listed_for_the_wheel() -> None:
    listed = setuptools_config()["packages"]
    assert isinstance(listed, list)
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "atom_desktop").rglob("__init__.py")
    }
    missing = sorted(on_disk - set(listed))
    assert not missing, (
        f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
        "or they will be missing from the wheel"
    )
    assert RESOURCE_PACKAGE in listed
    mapping = setuptools_config()["package-dir"]
    assert isinstance(mapping, dict)
    for package in listed:
        assert package_dir(package, mapping).is_dir(), f"{package} has no directory"


def test_every_resource_file_is_package_data() -> None:
    config = setuptools_config()
    listed, mapping = config["packages"], config["package-dir"]
    package_data = config["package-data"]
    assert isinstance(listed, list)
    assert isinstance(mapping, dict)
    assert isinstance(package_data, dict)
    dirs = {package_dir(p, mapping): p for p in listed if p.startswith(RESOURCE_PACKAGE)}
    unshipped = []
    for path in sorted(RESOURCES.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".py":
            continue
        # The deepest listed package containing the file owns it.
        owner_dir = max((d for d in dirs if path.is_relative_to(d)), key=lambda d: len(d.parts))
        relative = PurePosixPath(path.relative_to(owner_dir).as_posix())
        patterns = package_data.get(dirs[owner_dir], [])
        assert all("**" not in p for p in patterns), "extend this test for ** patterns"
        if not any(matches(relative, PurePosixPath(p)) for p in patterns):
            unshipped.append(str(path.relative_to(ROOT)))
    assert not unshipped, f"not in [tool.setuptools.package-data]: {unshipped}"


def matches(path: PurePosixPath, pattern: PurePosixPath) -> bool:
    """Glob match segment by segment (``*`` never crosses ``/``), as setuptools does."""
    return len(path.parts) == len(pattern.parts) and all(
        fnmatch.fnmatchcase(part, pat) for part, pat in zip(path.parts, pattern.parts, strict=True)
    )
