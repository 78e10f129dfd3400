"""Diagnostics: live plots of the app's own figures, the health of each part, the latest
error reports.

The plots show the last 15 minutes, a point a second: the process's CPU use
and memory, API requests per second, runs running and run output per second
(gui/diagnostics_samples.py samples them from the moment the page is built,
whether it is shown or not). The plotting library is loaded when the page is
first shown (gui/diagnostics_plots.py), and the plots are redrawn only while
the page is visible. The health rows and the reports are read on the agent
thread (gui/diagnostics_data.py) when the page is shown, when an event says
something changed, and every few seconds while it stays in view.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import (
    AgentStateChanged,
    AutomationChanged,
    AutomationRunChanged,
    Event,
    IntegrationChanged,
    RunnerPaused,
    SyncStatusChanged,
)
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.column_sizing import fit_columns
from atom_desktop.gui.diagnostics_data import DiagnosticsOverview, Report, diagnostics_overview
from atom_desktop.gui.diagnostics_samples import Sampler, Series, agent_counts
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.error_reports_dialog import copy_report, open_report
from atom_desktop.gui.relative_time import set_time_cell
from atom_desktop.gui.status_chip import StatusChipDelegate, set_status_cell
from atom_desktop.gui.style import Spacing, current_theme, heading, muted, page_margins

logger = logging.getLogger(__name__)

# pyqtgraph and numpy load with the plots, when the page is first shown.
if TYPE_CHECKING:
    from atom_desktop.gui.diagnostics_plots import Plot

#: Events after which the health rows are read again (a burst causes one read).
HEALTH_EVENTS = (
    AgentStateChanged,
    AutomationChanged,
    AutomationRunChanged,
    IntegrationChanged,
    RunnerPaused,
    SyncStatusChanged,
)
REFRESH_DELAY_MS = 300
#: While the page is in view, the rows and reports are read again this often.
REFRESH_EVERY_MS = 10_000
HEALTH_COLUMN = 1
REPORT_PATH_ROLE = Qt.ItemDataRole.UserRole + 1


class DiagnosticsPage(QWidget):
    """Live plots, the health of every service and integration, the latest reports."""

    #: The health rows and reports were read and shown (a DiagnosticsOverview).
    overview_loaded = Signal(object)
    #: The plots were redrawn with the newest sample.
    plotted = Signal()

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._loading = False
        self._again = False
        self.overview: DiagnosticsOverview | None = None
        #: The plots by series, once the page has first been shown.
        self.plots: dict[Series, Plot] = {}
        self.sampler = Sampler(lambda: agent_counts(host.runtime), self)

        title = heading(self.tr("Diagnostics"))
        intro = muted(
            QLabel(
                self.tr(
                    "This app's own figures over the last 15 minutes, a point a second; how "
                    "each part of the agent and each connected service is doing; and the "
                    "reports written when something failed unexpectedly."
                )
            )
        )
        intro.setWordWrap(True)
        intro.setAccessibleName(intro.text())

        # Plots: a caption over each; the plots themselves come with the first show.
        self._captions: dict[Series, QLabel] = {}
        self._slots: dict[Series, QWidget] = {}
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(Spacing.M)
        self._grid.setVerticalSpacing(Spacing.XS)
        # Three plots on the first row, two (wider) on the second: a 6-column grid.
        places = {
            Series.CPU: (0, 0, 2),
            Series.RSS: (0, 2, 2),
            Series.REQUESTS: (0, 4, 2),
            Series.RUNS: (2, 0, 3),
            Series.OUTPUT: (2, 3, 3),
        }
        for series, (row, column, span) in places.items():
            caption = QLabel(self._caption_text(series, None))
            caption.setToolTip(self._caption_tip(series))
            self._captions[series] = caption
            slot = QWidget()
            slot.setMinimumHeight(110)
            slot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self._slots[series] = slot
            self._grid.addWidget(caption, row, column, 1, span)
            self._grid.addWidget(slot, row + 1, column, 1, span)
        for row in (1, 3):
            self._grid.setRowStretch(row, 1)

        # Health of each part.
        self.health = QTreeWidget()
        self.health.setRootIsDecorated(False)
        self.health.setUniformRowHeights(True)
        self.health.setHeaderLabels([self.tr("Part"), self.tr("Health"), self.tr("Found")])
        self.health.setItemDelegateForColumn(HEALTH_COLUMN, StatusChipDelegate(self.health))
        self.health.setAccessibleName(self.tr("Health of each part"))
        fit_columns(self.health, elastic=2)
        health_box = QGroupBox(self.tr("Services and integrations"))
        QVBoxLayout(health_box).addWidget(self.health)

        # The latest reports.
        self.reports = QTreeWidget()
        self.reports.setRootIsDecorated(False)
        self.reports.setUniformRowHeights(True)
        # What failed, and where in the tooltip: the list is narrow, the report has it all.
        self.reports.setHeaderLabels([self.tr("When"), self.tr("What failed")])
        self.reports.setAccessibleName(self.tr("Error reports"))
        fit_columns(self.reports, elastic=1)
        self.reports_empty = EmptyState(
            self.tr("No error reports"),
            self.tr(
                "When something inside ATOM Desktop fails unexpectedly, a report is written "
                "on this computer (with secrets masked; nothing is sent anywhere) and listed "
                "here, to open or copy."
            ),
        )
        self.reports_stack = EmptyStateStack(self.reports, self.reports_empty)
        self.reports_stack.follow(self.reports.model())
        self.open_button = QPushButton(self.tr("Open report"))
        self.open_button.setAccessibleName(self.tr("Open report"))
        self.copy_button = QPushButton(self.tr("Copy report"))
        self.copy_button.setAccessibleName(self.tr("Copy report"))
        self.copy_button.setToolTip(self.tr("Put the report's text on the clipboard"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.copy_button)
        reports_box = QGroupBox(self.tr("Latest error reports"))
        reports_layout = QVBoxLayout(reports_box)
        reports_layout.addWidget(self.reports_stack, 1)
        reports_layout.addLayout(buttons)

        # Side by side, the divider movable: both lists have long text.
        lists = QSplitter(Qt.Orientation.Horizontal)
        lists.setChildrenCollapsible(False)
        lists.addWidget(health_box)
        lists.addWidget(reports_box)
        lists.setStretchFactor(0, 3)
        lists.setStretchFactor(1, 2)

        self.message = ErrorLabel()
        self.message.setAccessibleName(self.tr("Diagnostics message"))
        layout = page_margins(QVBoxLayout(self))
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addWidget(self.message)
        layout.addLayout(self._grid, 3)
        layout.addWidget(lists, 2)

        self._refresh_soon = QTimer(self)
        self._refresh_soon.setSingleShot(True)
        self._refresh_soon.setInterval(REFRESH_DELAY_MS)
        self._refresh_soon.timeout.connect(self.refresh)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setInterval(REFRESH_EVERY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self.reports.itemSelectionChanged.connect(self._selection_changed)
        self.reports.itemActivated.connect(lambda _item, _column: self.open_selected())
        self.open_button.clicked.connect(self.open_selected)
        self.copy_button.clicked.connect(self.copy_selected)
        self._selection_changed()
        self.sampler.sampled.connect(self._on_sample)
        host.agent_event.connect(self._on_event)
        self.sampler.start()

    # -- plots ------------------------------------------------------------------------------

    def _caption_text(self, series: Series, value: float | None) -> str:
        names = {
            Series.CPU: self.tr("CPU"),
            Series.RSS: self.tr("Memory"),
            Series.REQUESTS: self.tr("API requests"),
            Series.RUNS: self.tr("Running runs"),
            Series.OUTPUT: self.tr("Run output"),
        }
        if value is None:
            shown = "—"
        elif series is Series.CPU:
            shown = self.tr("{0:.1f} %").format(value)
        elif series is Series.RSS:
            shown = self.tr("{0:.1f} MB").format(value / 1e6)
        elif series is Series.REQUESTS:
            shown = self.tr("{0:.1f} a second").format(value)
        elif series is Series.RUNS:
            shown = f"{value:.0f}"
        else:
            shown = self.tr("{0:.2f} MB a second").format(value / 1e6)
        return f"<b>{names[series]}</b>&nbsp;&nbsp;{shown}"

    def _caption_tip(self, series: Series) -> str:
        return {
            Series.CPU: self.tr(
                "CPU time of this app (window and agent), in percent of one core: above 100 % "
                "when several threads are busy at once"
            ),
            Series.RSS: self.tr("Resident memory of this app, in MB"),
            Series.REQUESTS: self.tr("Requests the local API answered, each second"),
            Series.RUNS: self.tr("Runs holding a slot (running, or ending)"),
            Series.OUTPUT: self.tr("Output read from runs (stdout and stderr), in MB a second"),
        }[series]

    def _make_plots(self) -> None:
        """Load the plotting library and put a plot in each slot (the first show)."""
        from atom_desktop.gui.diagnostics_plots import Plot, PlotSpec  # noqa: PLC0415

        specs = {
            Series.CPU: PlotSpec(self.tr("CPU use, the last 15 minutes"), floor=100.0),
            Series.RSS: PlotSpec(self.tr("Memory, the last 15 minutes"), scale=1e6, floor=10.0),
            Series.REQUESTS: PlotSpec(self.tr("API requests, the last 15 minutes"), floor=5.0),
            Series.RUNS: PlotSpec(
                self.tr("Running runs, the last 15 minutes"), floor=1.0, integer=True
            ),
            Series.OUTPUT: PlotSpec(
                self.tr("Run output, the last 15 minutes"), scale=1e6, floor=1.0
            ),
        }
        theme = current_theme(self)
        for series, spec in specs.items():
            plot = Plot(spec, theme)
            plot.setToolTip(self._caption_tip(series))
            slot = self._slots[series]
            self._grid.replaceWidget(slot, plot)
            slot.deleteLater()
            self.plots[series] = plot
        # Said once: a build that lacked part of the plotting library would fail here.
        logger.info("Diagnostics plots ready")

    def _on_sample(self) -> None:
        if self.isVisible():
            self._redraw()

    def _redraw(self) -> None:
        """Show the whole history in the plots and the newest values in the captions."""
        history = self.sampler.history
        for series, caption in self._captions.items():
            caption.setText(self._caption_text(series, history.latest(series)))
            caption.setAccessibleName(caption.text().replace("<b>", "").replace("</b>", ""))
        if not self.plots or not len(history):
            return
        from atom_desktop.gui.diagnostics_plots import as_arrays  # noqa: PLC0415

        shown = list(self.plots)
        x, columns = as_arrays(history.times, [history.values[s] for s in shown], history.times[-1])
        for name, values in zip(shown, columns, strict=True):
            self.plots[name].show_values(x, values)
        self.plotted.emit()

    # -- health and reports -------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the health rows and the reports again (once at a time; again after if asked)."""
        if not self._host.is_running:
            self.message.show_error(self.tr("The agent is not running."))
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._host.call(diagnostics_overview, self._show, self._load_failed)

    def _loaded(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.refresh()

    def _load_failed(self, error: AtomError) -> None:
        self._loaded()
        self.message.show_error(str(error))

    def _on_event(self, event: Event) -> None:
        if isinstance(event.payload, HEALTH_EVENTS) and self.isVisible():
            self._refresh_soon.start()

    def _show(self, overview: DiagnosticsOverview) -> None:
        self._loaded()
        self.message.hide()
        self.overview = overview
        self.health.clear()
        for row in overview.health:
            item = QTreeWidgetItem([row.name, "", row.detail])
            set_status_cell(item, HEALTH_COLUMN, f"health.{row.health}")
            item.setToolTip(2, row.detail)
            self.health.addTopLevelItem(item)
        selected = self.selected_report()
        self.reports.clear()
        for report in overview.reports:
            summary = report.summary
            item = QTreeWidgetItem(["", summary.what])
            set_time_cell(item, 0, report.time)
            item.setToolTip(1, self.tr("{0}\nWhere: {1}").format(summary.what, summary.where))
            item.setData(0, REPORT_PATH_ROLE, report.path)
            self.reports.addTopLevelItem(item)
            if selected is not None and report.path == selected:
                item.setSelected(True)
        self._selection_changed()
        self.overview_loaded.emit(overview)

    def selected_report(self) -> str | None:
        """The file of the selected report (None when none is selected)."""
        items = self.reports.selectedItems()
        return str(items[0].data(0, REPORT_PATH_ROLE)) if items else None

    def listed_reports(self) -> list[Report]:
        """The reports listed, newest first."""
        return list(self.overview.reports) if self.overview is not None else []

    def _selection_changed(self) -> None:
        chosen = self.selected_report() is not None
        self.open_button.setEnabled(chosen)
        self.copy_button.setEnabled(chosen)

    def open_selected(self) -> None:
        """Open the selected report in the system's viewer."""
        path = self.selected_report()
        if path is not None:
            open_report(path)

    def copy_selected(self) -> None:
        """Put the selected report's text on the clipboard."""
        path = self.selected_report()
        if path is not None:
            copy_report(path)

    # -- Qt events ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """The plots on first show; fresh rows and reports, and a redraw, on every show."""
        super().showEvent(event)
        if not self.plots:
            self._make_plots()
        self._redraw()
        if self._host.is_running:
            self.refresh()
        self._refresh_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        """Out of view: nothing is read or drawn (the sampling goes on)."""
        super().hideEvent(event)
        self._refresh_timer.stop()
        self._refresh_soon.stop()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Redraw the plots in the other colours when the desktop turns light or dark."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.plots:
            theme = current_theme(self)
            for plot in self.plots.values():
                plot.apply_theme(theme)
