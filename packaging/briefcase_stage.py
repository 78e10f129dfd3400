"""Lay out the folder Briefcase builds ATOM Desktop from, and print its path.

    build/packaging-venv/bin/python packaging/briefcase_stage.py [--config F] [--out D]

Briefcase reads its settings from the ``[tool.briefcase]`` table of a
pyproject.toml and finds the app's sources and icons by paths relative to it.
The project's own pyproject.toml stays as it is (no Briefcase table to keep in
step with it); instead this script writes a staging folder (build/briefcase by
default) holding:

- ``pyproject.toml``: the project's ``[project]`` table with a fixed version
  (read from atom_desktop/__init__.py: Briefcase would otherwise run the build
  backend in an isolated environment to resolve the dynamic version), and
  ``[tool.briefcase]`` = briefcase.toml plus the keys this script owns
  (``sources``, ``icon``); Briefcase adds the project's dependencies to
  ``requires`` itself;
- ``LICENSE``, named by the project's ``license-files``;
- ``CHANGELOG``: Briefcase's Linux system packages must carry one. The
  project's CHANGELOG.md (or .rst, .txt, or HISTORY, NEWS, RELEASES) is
  copied when there is one; otherwise a one-entry file naming the version
  is written;
- ``src/atom_desktop``: the package, with resources/ inside it as
  ``atom_desktop.resources`` (where the installed wheel has it too);
- ``src/desktop``: the module Briefcase starts (it starts the module named
  like the app, and the app is named "desktop" so that the bundle identifier is
  org.atom.desktop); it runs ``atom_desktop.cli.main``;
- ``icons/``: atom-desktop.ico (Windows), atom-desktop.icns (macOS) and
  atom-desktop-<N>.png for N in 16, 32, 64, 128, 256, 512 (Linux), made with
  Pillow from resources/icons/hicolor. Sizes above the largest PNG there
  (256) are scaled up from it, and the script says so.

Briefcase's own output (its build/, dist/ and logs/ in the staging folder) is
left alone, so a second run updates the app instead of starting over.

Runs in the packaging environment (packaging/make_venv.py): Pillow and tomli_w.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import tomli_w
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
APP_ICON = "atom-desktop"
METAINFO = "org.atom.desktop.metainfo.xml"
# Keys this script derives from the project; briefcase.toml may not set them.
OWNED_KEYS = ("version", "requires", "license", "license_files", "sources", "icon")
# The [project] keys Briefcase uses (others, like readme, name files it does not need).
PROJECT_KEYS = (
    "name",
    "description",
    "requires-python",
    "license",
    "license-files",
    "authors",
    "urls",
    "dependencies",
)
LINUX_ICON_SIZES = (16, 32, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# The names Briefcase looks for (with .md, .rst, .txt or no extension).
CHANGELOG_NAMES = ("CHANGELOG", "HISTORY", "NEWS", "RELEASES")
LAUNCHER = '''"""Briefcase starts this module (named like the app); the app is atom_desktop."""

import sys

from atom_desktop.cli import main

sys.exit(main())
'''


class StageError(Exception):
    """briefcase.toml or the project cannot make a valid staging folder."""


def read_version(package_init: Path) -> str:
    """The ``__version__`` string assigned in ``package_init``, read without importing it."""
    tree = ast.parse(package_init.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise StageError(f"no __version__ = '...' in {package_init}")


def metainfo_id(metainfo: Path) -> str:
    """The component id of an AppStream metainfo file."""
    found = ET.parse(metainfo).getroot().findtext("id")  # noqa: S314 - our own file
    if not found:
        raise StageError(f"{metainfo} has no <id>")
    return found.strip()


def _app_tables(name: str, table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The app's table and its platform, format and vendor tables, with their names.

    Document types are left out: their ``icon`` is theirs, not the app's.
    """
    found = [(f"[{name}]", table)]
    for key, value in table.items():
        if isinstance(value, dict) and key != "document_type":
            found += _app_tables(f"{name}.{key}", value)
    return found


def load_briefcase_settings(config: Path) -> dict[str, Any]:
    """briefcase.toml, checked for the keys this script owns and for exactly one app."""
    try:
        settings = tomllib.loads(config.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StageError(f"{config} is not valid TOML: {exc}") from exc
    apps = settings.get("app")
    if not isinstance(apps, dict) or len(apps) != 1:
        raise StageError(f"{config} must define exactly one [app.NAME] table")
    ((app_name, app),) = apps.items()
    for scope, table in (("the top level", settings), *_app_tables(f"app.{app_name}", app)):
        taken = sorted(k for k in OWNED_KEYS if k in table)
        if taken:
            raise StageError(
                f"{config} sets {', '.join(taken)} in {scope}; "
                "packaging/briefcase_stage.py derives them from the project"
            )
    return settings


def build_pyproject(root: Path, config: Path) -> dict[str, Any]:
    """The staging pyproject.toml: the project's metadata plus the Briefcase settings."""
    ours = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = {k: ours["project"][k] for k in PROJECT_KEYS if k in ours["project"]}
    project["version"] = read_version(root / "atom_desktop" / "__init__.py")
    settings = load_briefcase_settings(config)
    ((app_name, app),) = settings["app"].items()
    expected = metainfo_id(root / "resources" / METAINFO)
    identifier = f"{settings.get('bundle', '')}.{app_name.replace('_', '-')}"
    if identifier != expected:
        raise StageError(
            f"{config}: bundle {settings.get('bundle')!r} and app {app_name!r} make the "
            f"bundle identifier {identifier!r}, but resources/{METAINFO} says {expected!r}"
        )
    app["sources"] = ["src/atom_desktop", f"src/{app_name}"]
    app["icon"] = f"icons/{APP_ICON}"
    return {
        "build-system": ours["build-system"],
        "project": project,
        "tool": {"briefcase": settings},
    }


def _copy_package(root: Path, src: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    target = src / "atom_desktop"
    shutil.copytree(root / "atom_desktop", target, ignore=ignore)
    # pyproject.toml maps resources/ to atom_desktop.resources; the bundle
    # has no such mapping, so the folder goes where the package is looked for.
    shutil.copytree(root / "resources", target / "resources", ignore=ignore)


def _app_pngs(root: Path) -> dict[int, Path]:
    hicolor = root / "resources" / "icons" / "hicolor"
    found: dict[int, Path] = {}
    for png in hicolor.glob(f"*x*/apps/{APP_ICON}.png"):
        width, _, height = png.parent.parent.name.partition("x")
        if width == height and width.isdigit():
            found[int(width)] = png
    if not found:
        raise StageError(f"no {APP_ICON}.png under {hicolor}")
    return found


def _sized(pngs: dict[int, Path], size: int, upscaled: list[int]) -> Image.Image:
    """The PNG of ``size``, or the nearest larger one scaled down, or the largest scaled up."""
    larger = sorted(n for n in pngs if n >= size)
    source = pngs[larger[0]] if larger else pngs[max(pngs)]
    with Image.open(source) as opened:
        image = opened.convert("RGBA")
    if image.size != (size, size):
        if not larger:
            upscaled.append(size)
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def make_icons(root: Path, icons: Path) -> list[int]:
    """Write the icons Briefcase asks for; returns the sizes that had to be scaled up."""
    pngs = _app_pngs(root)
    upscaled: list[int] = []
    icons.mkdir(parents=True, exist_ok=True)
    for size in LINUX_ICON_SIZES:
        _sized(pngs, size, upscaled).save(icons / f"{APP_ICON}-{size}.png")
    largest = _sized(pngs, max(ICO_SIZES), upscaled)
    largest.save(
        icons / f"{APP_ICON}.ico",
        sizes=[(n, n) for n in ICO_SIZES],
        append_images=[_sized(pngs, n, upscaled) for n in ICO_SIZES[:-1]],
    )
    # Pillow writes every ICNS size (16 to 1024) from the images it is given,
    # scaling the nearest one where a size is missing.
    icns_sizes = (16, 32, 64, 128, 256, 512, 1024)
    _sized(pngs, 1024, upscaled).save(
        icons / f"{APP_ICON}.icns",
        append_images=[_sized(pngs, n, upscaled) for n in icns_sizes[:-1]],
    )
    return sorted(set(upscaled))


def _changelog(root: Path, out: Path, version: str) -> None:
    for old in out.iterdir():
        if old.is_file() and old.name.split(".")[0] in CHANGELOG_NAMES:
            old.unlink()
    for name in CHANGELOG_NAMES:
        for suffix in (".md", ".rst", ".txt", ""):
            found = root / f"{name}{suffix}"
            if found.is_file():
                shutil.copy2(found, out / found.name)
                return
    (out / "CHANGELOG").write_text(
        f"{version}\n\nBuilt from the source tree; the project keeps no changelog yet.\n"
    )


def stage(root: Path, config: Path, out: Path) -> Path:
    """Write the staging folder ``out`` for ``config``; returns its pyproject.toml."""
    pyproject = build_pyproject(root, config)
    (app_name,) = pyproject["tool"]["briefcase"]["app"]
    out.mkdir(parents=True, exist_ok=True)
    # Only what this script writes is replaced; Briefcase's build/, dist/ and
    # logs/ stay.
    for name in ("src", "icons"):
        shutil.rmtree(out / name, ignore_errors=True)
    src = out / "src"
    _copy_package(root, src)
    (src / app_name).mkdir()
    (src / app_name / "__init__.py").write_text("")
    (src / app_name / "__main__.py").write_text(LAUNCHER)
    for name in pyproject["project"].get("license-files", []):
        shutil.copy2(root / name, out / name)
    _changelog(root, out, pyproject["project"]["version"])
    upscaled = make_icons(root, out / "icons")
    if upscaled:
        sys.stderr.write(
            "packaging/briefcase_stage.py: no PNG this large in resources/icons/hicolor, "
            f"scaled up from the largest: {', '.join(map(str, upscaled))} px\n"
        )
    target = out / "pyproject.toml"
    target.write_text(tomli_w.dumps(pyproject), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    """Stage for Briefcase and print the staging folder's path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "briefcase.toml")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "briefcase")
    args = parser.parse_args(argv)
    try:
        target = stage(ROOT, args.config.resolve(), args.out.resolve())
    except StageError as exc:
        sys.stderr.write(f"packaging/briefcase_stage.py: {exc}\n")
        return 1
    sys.stdout.write(f"{target.parent}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
