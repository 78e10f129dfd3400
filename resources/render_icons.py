"""Render the PNG icons from the SVG sources in ``resources/icons``.

Run it after changing an SVG and commit what it writes::

    .venv/bin/python resources/render_icons.py

Writes ``icons/hicolor/<N>x<N>/apps/atom-desktop.png`` (the freedesktop icon
theme layout, so the directory can be copied into ``share/icons`` as is) and
``icons/tray/<state>-<light|dark>-<N>.png`` (a tray icon for light panels and
one for dark panels). Platforms and toolkits that cannot draw SVG at
run time (Windows' tray, some panels) use these. Rendering uses QtSvg from
PySide6-Essentials with the offscreen platform, so no display is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ICONS_DIR = Path(__file__).resolve().parent / "icons"
APP_ICON = "atom-desktop"
APP_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
TRAY_STATES = ("idle", "running", "error", "paused")
TRAY_SIZES = (16, 22, 32, 64)
TRAY_VARIANTS = ("light", "dark")


def planned_outputs(icons_dir: Path = ICONS_DIR) -> list[tuple[Path, Path, int]]:
    """Every (svg source, png target, size) this script renders."""
    jobs = [
        (
            icons_dir / f"{APP_ICON}.svg",
            icons_dir / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ICON}.png",
            n,
        )
        for n in APP_SIZES
    ]
    jobs += [
        (
            icons_dir / f"tray-{state}-{variant}.svg",
            icons_dir / "tray" / f"{state}-{variant}-{n}.png",
            n,
        )
        for state in TRAY_STATES
        for variant in TRAY_VARIANTS
        for n in TRAY_SIZES
    ]
    return jobs


def render_all(icons_dir: Path = ICONS_DIR) -> list[Path]:
    """Render every planned PNG; returns the files written."""
    # Qt is imported here, not at module level, so merely importing this file
    # (as the packaged ``atom_desktop.resources.render_icons``) never needs Qt.
    # The offscreen platform must be chosen before the application exists.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt  # noqa: PLC0415
    from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: PLC0415
    from PySide6.QtSvg import QSvgRenderer  # noqa: PLC0415

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    written: list[Path] = []
    try:
        for source, target, size in planned_outputs(icons_dir):
            renderer = QSvgRenderer(str(source))
            if not renderer.isValid():
                raise SystemExit(f"render_icons: {source} is not an SVG that QtSvg can draw")
            image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            try:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                renderer.render(painter, QRectF(0, 0, size, size))
            finally:
                painter.end()
            target.parent.mkdir(parents=True, exist_ok=True)
            # Straight (not premultiplied) alpha is what PNG stores; the .png
            # suffix picks the format.
            if not image.convertToFormat(QImage.Format.Format_ARGB32).save(str(target)):
                raise SystemExit(f"render_icons: could not write {target}")
            written.append(target)
    finally:
        del app
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--icons-dir",
        type=Path,
        default=ICONS_DIR,
        help="where the SVGs are (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    written = render_all(args.icons_dir)
    print(f"render_icons: wrote {len(written)} PNG files under {args.icons_dir}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
