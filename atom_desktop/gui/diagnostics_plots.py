"""The Diagnostics page's live plots: pyqtgraph, loaded when the page is first shown.

Importing this module loads pyqtgraph and numpy (together some 30 ms and
several MB), so only the page's first ``showEvent`` does: the window's first
paint and the idle app do without both.

Each plot is a small ``PlotWidget`` of the last 15 minutes (x: seconds before
now, fixed; y: from 0 to a little above the highest value). The plots are
for looking at, not for exploring: no mouse zoom, no context menu, no
auto-range button. They draw without antialiasing, clip each curve to the
view and thin it out by peaks when it has more points than pixels: a redraw
of all five is a millisecond or two, once a second, and only while the page
is visible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from atom_desktop.gui.style import Spacing, Theme

#: The x axis' ticks: seconds before now, and their labels (translated when shown).
TICKS = (
    (-900, QT_TRANSLATE_NOOP("Plot", "15 min ago")),
    (-600, QT_TRANSLATE_NOOP("Plot", "10 min ago")),
    (-300, QT_TRANSLATE_NOOP("Plot", "5 min ago")),
    (0, QT_TRANSLATE_NOOP("Plot", "now")),
)
WINDOW_S = 900.0
#: How far above the highest value the y axis reaches (at least).
HEADROOM = 1.1
#: How far (pixels) the x axis' first and last labels may reach past its ends.
EDGE_LABEL_PX = 40
#: About how many labelled ticks a plot of whole numbers has on its y axis.
INTEGER_TICKS = 4


@dataclass(frozen=True, slots=True)
class PlotSpec:
    """One plot: what it shows, and how its values are scaled for the y axis."""

    name: str  # the accessible name ("CPU use, the last 15 minutes")
    scale: float = 1.0  # values are divided by this for the axis (bytes to MB)
    floor: float = 1.0  # the y axis reaches at least this (scaled) value
    integer: bool = False  # whole numbers only (a count of runs)


class Plot(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph has no type hints
    """One series over the last 15 minutes, in the theme's colours."""

    def __init__(self, spec: PlotSpec, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=theme.colours.surface)
        self.spec = spec
        self.setAccessibleName(spec.name)
        # Nothing to operate: out of the Tab order, no menu, no zoom, no buttons.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        # Room for the labels that reach past the ends: the top value and "now".
        item.setContentsMargins(0, Spacing.S, Spacing.L, 0)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        # A second more each side: ticks on the very ends would be rounded away. (No grid:
        # with one, pyqtgraph drops the labels that reach past the axis' ends.)
        item.setXRange(-WINDOW_S - 1, 1, padding=0)
        item.getViewBox().disableAutoRange()
        ticks = [(at, QCoreApplication.translate("Plot", str(text))) for at, text in TICKS]
        bottom = item.getAxis("bottom")
        bottom.setTicks([ticks])
        # "15 min ago" and "now" sit on the plot's edges: let them reach past them.
        bottom.setStyle(hideOverlappingLabels=EDGE_LABEL_PX)
        left = item.getAxis("left")
        left.setWidth(44)
        self._curve = item.plot([], [])
        self._curve.setSkipFiniteCheck(True)
        self._top = 0.0
        self._set_top(round_up(spec.floor))
        self.setMinimumHeight(110)
        self.apply_theme(theme)

    def apply_theme(self, theme: Theme) -> None:
        """Draw in ``theme``'s colours (the desktop turned light or dark)."""
        c = theme.colours
        self.setBackground(c.surface)
        item = self.getPlotItem()
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.85)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(c.border))
            axis.setTextPen(pg.mkPen(c.muted))
            axis.setStyle(tickFont=font)
        fill = QColor(c.accent)
        fill.setAlpha(60)
        self._curve.setPen(pg.mkPen(c.accent, width=1.5))
        self._curve.setFillLevel(0)
        self._curve.setBrush(fill)

    def show_values(self, seconds_ago: np.ndarray, values: np.ndarray) -> None:
        """Plot ``values`` (unscaled) at ``seconds_ago`` (negative: before now)."""
        scaled = values / self.spec.scale if self.spec.scale != 1.0 else values
        self._curve.setData(seconds_ago, scaled)
        highest = float(scaled.max()) if scaled.size else 0.0
        self._set_top(round_up(max(highest * HEADROOM, self.spec.floor)))

    def _set_top(self, top: float) -> None:
        """The y axis from 0 to ``top``; whole-number ticks for counts."""
        if top == self._top:
            return
        self._top = top
        item = self.getPlotItem()
        item.setYRange(0, top * 1.001, padding=0)  # the top tick is kept (see above)
        if self.spec.integer:
            step = max(1, int(np.ceil(top / INTEGER_TICKS)))
            item.getAxis("left").setTickSpacing(major=step, minor=step)

    def point_count(self) -> int:
        """How many points the curve holds."""
        x, _ = self._curve.getData()
        return 0 if x is None else len(x)


def as_arrays(
    times: Sequence[float], columns: Iterable[Sequence[float]], now: float
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sample times as seconds before ``now``, and each column as an array."""
    count = len(times)
    x = np.fromiter(times, dtype=float, count=count) - now
    return x, [np.fromiter(column, dtype=float, count=count) for column in columns]


def round_up(value: float) -> float:
    """The next round number at or above ``value`` (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n).

    The y axis' top moves in these steps rather than with every sample, so
    its labels stay put while the values wander.
    """
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0):
        if step * magnitude >= value * (1 - 1e-9):
            return step * magnitude
    return 10.0 * magnitude
