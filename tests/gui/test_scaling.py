"""Text follows the system font and icons stay sharp on HiDPI screens.

- Every widget of every page keeps a point-sized font (never pixels), so a
  larger system font makes all text larger; on the pages built from the app
  font, no text is smaller than it; table rows are as tall as their text.
- The navigation rail is as wide as its longest label in the current font:
  with a font half as large again, no label is cut, and it follows a change
  of the font while the window is open.
- Every icon the window draws, asked for at a device pixel ratio of 2, comes
  back with twice the pixels (drawn from the SVG), not a small bitmap that
  the screen would blow up. A window under ``QT_SCALE_FACTOR=2`` draws its
  rail icons that way.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QListWidget,
    QStyle,
    QStyleOptionViewItem,
    QWidget,
)
from pytestqt.qtbot import QtBot

from atom_desktop.config.profile import Profile
from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.icons import PAGE_ICONS, STATUS_ICONS, app_icon, page_icon, status_icon
from atom_desktop.gui.main_window import PAGES
from atom_desktop.resource_files import TRAY_STATES

ROOT = Path(__file__).resolve().parents[2]
#: The pages of this module's concern whose text all comes from the app font.
FONT_PAGES = ("Settings", "Automations", "Sync", "Integrations")
BIG_POINTS = 19.0


@pytest.fixture
def big_system_font(qapp: QApplication) -> Iterator[float]:
    """The desktop's font made much larger (as a person with low vision sets it)."""
    before = QFont(qapp.font())
    font = QFont(before)
    font.setPointSizeF(BIG_POINTS)
    qapp.setFont(font)
    yield BIG_POINTS
    qapp.setFont(before)


def widgets(page: QWidget) -> list[QWidget]:
    return [page, *page.findChildren(QWidget)]


def test_no_widget_has_a_pixel_sized_font(
    qtbot: QtBot, big_system_font: float, desktop: DesktopApp
) -> None:
    window = desktop.window
    pixel_sized = [
        f"{name}: {type(w).__name__} {w.accessibleName()!r}"
        for name in PAGES
        for w in widgets(window.page(name))
        if w.font().pixelSize() != -1
    ]
    assert pixel_sized == []


@pytest.mark.parametrize("name", FONT_PAGES, ids=[p.lower() for p in FONT_PAGES])
def test_text_grows_with_the_system_font(
    qtbot: QtBot, big_system_font: float, desktop: DesktopApp, name: str
) -> None:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    page = window.page(name)
    window.show_page(PAGES.index(name))
    smaller = [
        f"{type(w).__name__} {w.accessibleName()!r} at {w.font().pointSizeF()} pt"
        for w in widgets(page)
        if w.font().pointSizeF() < big_system_font - 0.01
    ]
    assert smaller == []
    for view in page.findChildren(QAbstractItemView):
        if isinstance(view, QHeaderView):
            continue  # measured with its view
        model = view.model()
        if model is None or model.rowCount() == 0 or not view.isVisible():
            continue
        row = view.visualRect(model.index(0, 0)).height()
        assert row >= view.fontMetrics().height(), f"{view.accessibleName()} rows cut text"


def cut_rail_labels(rail: QListWidget) -> list[str]:
    """The rail's labels that do not fit where the style draws them, measured from
    each entry's place in the view and the style's layout of its icon and text."""
    cut = []
    viewport = rail.viewport().rect()
    metrics = rail.fontMetrics()
    for row in range(rail.count()):
        item = rail.item(row)
        rect = rail.visualRect(rail.model().index(row, 0))
        option = QStyleOptionViewItem()
        option.initFrom(rail)
        option.rect = rect
        option.font = rail.font()
        option.fontMetrics = metrics
        option.text = item.text()
        option.icon = item.icon()
        option.decorationSize = rail.iconSize()
        option.decorationPosition = QStyleOptionViewItem.Position.Left
        option.displayAlignment = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        option.features = (
            QStyleOptionViewItem.ViewItemFeature.HasDisplay
            | QStyleOptionViewItem.ViewItemFeature.HasDecoration
        )
        text = rail.style().subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, rail)
        if (
            not viewport.contains(rect)
            or text.width() < metrics.horizontalAdvance(item.text())
            or text.height() < metrics.height()
        ):
            cut.append(f"{item.text()}: {text.width()}x{text.height()} px in {rect}")
    return cut


# The old fixed 150 px rail still held "Integrations" at 1.5 times the offscreen
# platform's 9 pt font and cut every label at twice it.
@pytest.mark.parametrize("factor", [1.5, 2.0], ids=["1.5x", "2x"])
def test_no_rail_label_is_cut_with_a_larger_font(
    qtbot: QtBot, qapp: QApplication, fresh_app: tuple[DesktopApp, Profile], factor: float
) -> None:
    window = fresh_app[0].window
    window.show()
    qtbot.waitExposed(window)
    rail = window.rail
    # The icons come just after the first paint; the labels are measured beside them.
    qtbot.waitUntil(lambda: not any(rail.item(r).icon().isNull() for r in range(rail.count())))
    assert cut_rail_labels(rail) == []
    normal_width = rail.width()
    before = QFont(qapp.font())
    larger = QFont(before)
    larger.setPointSizeF(before.pointSizeF() * factor)
    try:
        qapp.setFont(larger)
        qtbot.waitUntil(lambda: rail.font().pointSizeF() == larger.pointSizeF())
        qtbot.waitUntil(lambda: cut_rail_labels(rail) == [], timeout=5000)
        assert rail.width() > normal_width
    finally:
        qapp.setFont(before)
    qtbot.waitUntil(lambda: rail.width() == normal_width, timeout=5000)
    assert cut_rail_labels(rail) == []


@pytest.mark.parametrize("factor", [1.0, 2.0, 3.0], ids=["1x", "2x", "3x"])
def test_the_shortest_window_shows_every_page_of_the_rail(
    qtbot: QtBot, qapp: QApplication, fresh_app: tuple[DesktopApp, Profile], factor: float
) -> None:
    """The window is never shorter than its pages need, and that is tall enough for
    all ten entries of the rail at any font size: the rail never has to scroll (so
    no scroll bar ever covers its labels)."""
    window = fresh_app[0].window
    window.show()
    qtbot.waitExposed(window)
    rail = window.rail
    qtbot.waitUntil(lambda: not any(rail.item(r).icon().isNull() for r in range(rail.count())))
    before = QFont(qapp.font())
    larger = QFont(before)
    larger.setPointSizeF(before.pointSizeF() * factor)
    try:
        qapp.setFont(larger)
        qtbot.waitUntil(lambda: rail.font().pointSizeF() == larger.pointSizeF())
        window.resize(window.width(), 1)  # as short as it will go
        qtbot.waitUntil(lambda: window.height() == window.minimumSizeHint().height())
        qtbot.waitUntil(lambda: cut_rail_labels(rail) == [], timeout=5000)
        assert not rail.verticalScrollBar().isVisible()
    finally:
        qapp.setFont(before)


def icons() -> dict[str, QIcon]:
    found = {"app": app_icon()}
    for dark in (False, True):
        shade = "dark" if dark else "light"
        found |= {f"page-{p}-{shade}": page_icon(p, dark=dark) for p in PAGE_ICONS}
        found |= {f"status-{s}-{shade}": status_icon(s, dark=dark) for s in STATUS_ICONS}
    return found


@pytest.mark.parametrize("size", [16, 20, 24, 32], ids=lambda s: f"{s}px")
def test_icons_are_drawn_at_twice_the_pixels_for_a_ratio_of_two(
    qapp: QApplication, size: int
) -> None:
    blurry = []
    for name, icon in icons().items():
        pixmap = icon.pixmap(QSize(size, size), 2.0)
        if pixmap.width() < 2 * size and pixmap.height() < 2 * size:
            blurry.append(f"{name}: {pixmap.width()}x{pixmap.height()}")
    assert blurry == [], "these icons would be scaled up from a smaller bitmap"


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("state", TRAY_STATES)
def test_tray_icons_are_sharp_at_a_ratio_of_two(qapp: QApplication, state: str, dark: bool) -> None:
    from atom_desktop.gui.icons import tray_icon  # noqa: PLC0415

    pixmap = tray_icon(state, dark=dark).pixmap(QSize(22, 22), 2.0)  # type: ignore[arg-type]
    assert max(pixmap.width(), pixmap.height()) >= 44


SCALED_WINDOW = textwrap.dedent(
    """
    import sys
    import time
    import keyring.backends.fail
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication
    from atom_desktop.gui.agent_host import AgentHost
    from atom_desktop.gui.main_window import MainWindow
    from atom_desktop.gui.preferences import Preferences
    from tests.gui.conftest import linux_autostart
    from pathlib import Path

    app = QApplication([])
    tmp = Path(sys.argv[1])
    host = AgentHost(None, keyring_backend=keyring.backends.fail.Keyring())
    window = MainWindow(host, Preferences.load(tmp), linux_autostart(tmp))
    window.show()
    # The rail's icons are set just after the first paint.
    deadline = time.monotonic() + 30
    while any(rail_item.icon().isNull() for rail_item in
              (window.rail.item(i) for i in range(window.rail.count()))):
        if time.monotonic() > deadline:
            sys.exit("the rail's icons were never set")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    ratio = window.devicePixelRatioF()
    rail = window.rail
    size = rail.iconSize()
    for row in range(rail.count()):
        pixmap = rail.item(row).icon().pixmap(size, ratio)
        print(row, ratio, size.width(), pixmap.width(), pixmap.devicePixelRatio())
    """
)


def test_a_window_at_scale_factor_two_draws_sharp_rail_icons(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    result = subprocess.run(
        [sys.executable, "-c", SCALED_WINDOW, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert len(rows) == len(PAGES)
    for _, ratio, logical, pixels, pixmap_ratio in rows:
        assert float(ratio) == 2.0
        assert int(pixels) == 2 * int(logical), "a rail icon is a bitmap scaled up"
        assert float(pixmap_ratio) == 2.0
