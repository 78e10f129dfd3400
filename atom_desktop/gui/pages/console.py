"""Console: a tab per run with live output, and the history of past runs."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import Event
from atom_desktop.core.statuses import RUN_ACTIVE, RUN_FINISHED, RunStatus
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.console_view import ConsoleView
from atom_desktop.gui.empty_state import EmptyState, EmptyStateStack
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.run_feed import RunFeed
from atom_desktop.gui.run_labels import run_command_text, short_command
from atom_desktop.gui.run_list import RunList
from atom_desktop.gui.status_chip import StatusChip, status_colours
from atom_desktop.gui.style import Spacing, current_theme, heading, page_margins

# Types only: the store (SQLAlchemy) loads on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.store.runs import RunRecord

HISTORY_DELAY_MS = 300
# A tab takes the next batch of a run only when its view has ingested all but
# this much: the view queues what it is given, so without this a flood would
# queue up in the window faster than it is shown.
VIEW_BACKLOG_CHARS = 2 * 1024 * 1024
CREDIT_CHECK_MS = 16


class RunTab(QWidget):
    """One run: its output, its state, and what can be done with it."""

    cancel_requested = Signal(str)
    rerun_requested = Signal(str)
    input_entered = Signal(str, str)  # run id, text

    def __init__(self, run_id: str, command: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id = run_id
        self.command = command
        self.token = 0  # the RunFeed follow showing this tab's output
        self.finished = False
        self.view = ConsoleView(self)
        self.status = StatusChip("queued")
        # The exit code or signal, beside the chip.
        self.detail = QLabel()
        self.detail.setAccessibleName(self.tr("How the run ended"))
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.setAccessibleName(self.tr("Cancel the run"))
        self.rerun_button = QPushButton(self.tr("Re-run"))
        self.rerun_button.setAccessibleName(self.tr("Run the same command again"))
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setAccessibleName(self.tr("Copy the output"))
        self.find_box = QLineEdit()
        self.find_box.setPlaceholderText(self.tr("Find (Ctrl+F, Enter for next)"))
        self.find_box.setAccessibleName(self.tr("Find in output"))
        self.find_box.setClearButtonEnabled(True)
        self.follow = QCheckBox(self.tr("Follow"))
        self.follow.setChecked(True)
        self.follow.setAccessibleName(self.tr("Follow the end of the output"))
        self.stdin = QLineEdit()
        self.stdin.setPlaceholderText(self.tr("Type input for the command and press Enter"))
        self.stdin.setAccessibleName(self.tr("Standard input"))

        title = QLabel(f"<b>{html.escape(short_command(command, 100))}</b>")
        title.setToolTip(command)
        title.setAccessibleName(command)
        # Long commands must not widen the window: the label gives way.
        title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top_row = QHBoxLayout()
        top_row.setSpacing(Spacing.S)
        top_row.addWidget(self.status)
        top_row.addWidget(title, 1)
        top_row.addWidget(self.detail)
        tools = QHBoxLayout()
        tools.addWidget(self.cancel_button)
        tools.addWidget(self.rerun_button)
        tools.addWidget(self.copy_button)
        tools.addStretch(1)
        tools.addWidget(self.find_box)
        tools.addWidget(self.follow)
        self.find_box.setMinimumWidth(200)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, Spacing.S, 0, 0)
        layout.setSpacing(Spacing.S)
        layout.addLayout(top_row)
        layout.addLayout(tools)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.stdin)

        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.run_id))
        self.rerun_button.clicked.connect(lambda: self.rerun_requested.emit(self.run_id))
        self.copy_button.clicked.connect(self.view.copy)
        self.find_box.returnPressed.connect(self.find_next)
        self.follow.toggled.connect(self.view.set_follow_tail)
        self.view.followTailChanged.connect(self.follow.setChecked)
        self.stdin.returnPressed.connect(self._send_input)
        find = QShortcut(QKeySequence.StandardKey.Find, self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self.find_box.setFocus)
        self.set_status(RunStatus.QUEUED)

    def find_next(self) -> bool:
        """Find the next match of the find box's text."""
        text = self.find_box.text()
        found = bool(text) and self.view.find(text)
        # Not found: the box takes the failed chip's colours (light or dark).
        palette = self.find_box.palette()
        if found or not text:
            palette = self.palette()
        else:
            background, foreground = status_colours("failed", dark=current_theme(self).dark)
            palette.setColor(QPalette.ColorRole.Base, background)
            palette.setColor(QPalette.ColorRole.Text, foreground)
        self.find_box.setPalette(palette)
        return found

    def set_status(self, status: str, detail: str = "") -> None:
        """Show the run's state; a finished run takes no input and cannot be cancelled."""
        if self.finished:
            return  # a late, older view of the run (e.g. the history) changes nothing
        self.finished = status in RUN_FINISHED
        self.status.set_status(status)
        # "Succeeded" says exit 0 already; other endings say how they ended.
        self.detail.setText("" if status == RunStatus.SUCCEEDED else detail)
        active = status not in RUN_FINISHED
        self.cancel_button.setEnabled(active)
        self.stdin.setEnabled(active)

    def _send_input(self) -> None:
        self.input_entered.emit(self.run_id, self.stdin.text() + "\n")
        self.stdin.clear()


class ConsolePage(QWidget):
    """Tabs of runs (live or reopened) and a history list."""

    run_command_requested = Signal()  # an empty state's "Run a command"

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.feed = RunFeed(host, self)
        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.setAccessibleName(self.tr("Runs"))
        self.history = RunList(self.tr("Run history"))
        self.history.setMinimumWidth(260)
        self.history.setToolTip(self.tr("Double-click or Enter reopens a run's output"))
        self.history_empty = EmptyState(
            self.tr("No runs yet"),
            self.tr(
                "Every command run from Home, the tray, the API or an automation is listed "
                "here, newest first. Enter reopens its output."
            ),
            action=self.tr("Run a command"),
        )
        self.history_stack = EmptyStateStack(self.history, self.history_empty)
        self.history_stack.follow(self.history.model())
        self.empty = EmptyState(
            self.tr("No run open"),
            self.tr(
                "A run's output shows here live, in colour, with Find and Cancel. "
                "Run a command, or reopen one from the history."
            ),
            action=self.tr("Run a command"),
        )
        for empty in (self.history_empty, self.empty):
            empty.action_requested.connect(self.run_command_requested)
        self.message = ErrorLabel()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(Spacing.S)
        left_layout.addWidget(heading(self.tr("History"), level=2))
        left_layout.addWidget(self.history_stack, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.message)
        right_layout.addWidget(self.empty, 1)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 640])
        page_margins(QVBoxLayout(self)).addWidget(splitter)
        self._update_empty()

        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.history.run_chosen.connect(self.open_run)
        self.feed.output.connect(self._on_output)
        self.feed.dropped.connect(self._on_dropped)
        self.feed.ended.connect(self._on_ended)
        self.feed.failed.connect(self._on_follow_failed)
        # Follows whose next batch waits for their view to catch up.
        self._owed: set[int] = set()
        self._credit_timer = QTimer(self)
        self._credit_timer.setInterval(CREDIT_CHECK_MS)
        self._credit_timer.timeout.connect(self._pay_credits)
        self._history_timer = QTimer(self)
        self._history_timer.setSingleShot(True)
        self._history_timer.setInterval(HISTORY_DELAY_MS)
        self._history_timer.timeout.connect(self.refresh_history)
        host.when_started(self.refresh_history)
        host.agent_event.connect(self._on_event)

    # -- tabs -------------------------------------------------------------------------------

    def open_run(self, run_id: str, command: str) -> RunTab:
        """Show a run in a tab (focusing it if it is open already) and follow its output."""
        existing = self.tab_for(run_id)
        if existing is not None:
            self.tabs.setCurrentWidget(existing)
            return existing
        tab = RunTab(run_id, command)
        tab.cancel_requested.connect(self.cancel)
        tab.rerun_requested.connect(self.rerun)
        tab.input_entered.connect(self.send_input)
        index = self.tabs.addTab(tab, short_command(command, 24))
        self.tabs.setTabToolTip(index, command)
        self.tabs.setCurrentIndex(index)
        self._update_empty()
        tab.token = self.feed.follow(run_id)
        return tab

    def tab_for(self, run_id: str) -> RunTab | None:
        """The open tab of ``run_id``, if any."""
        for index in range(self.tabs.count()):
            tab = self.tabs.widget(index)
            if isinstance(tab, RunTab) and tab.run_id == run_id:
                return tab
        return None

    def close_tab(self, index: int) -> None:
        """Close a tab (the run goes on; it stays in the history)."""
        tab = self.tabs.widget(index)
        if isinstance(tab, RunTab):
            self.feed.stop(tab.token)
            self._owed.discard(tab.token)
        self.tabs.removeTab(index)
        if tab is not None:
            tab.deleteLater()
        self._update_empty()

    def tab_for_token(self, token: int) -> RunTab | None:
        """The tab a follow feeds, if it is still open."""
        for index in range(self.tabs.count()):
            tab = self.tabs.widget(index)
            if isinstance(tab, RunTab) and tab.token == token:
                return tab
        return None

    def _update_empty(self) -> None:
        has_tabs = self.tabs.count() > 0
        self.tabs.setVisible(has_tabs)
        self.empty.setVisible(not has_tabs)

    # -- output ------------------------------------------------------------------------------

    def _on_output(self, token: int, batch: list[tuple[str, str]]) -> None:
        tab = self.tab_for_token(token)
        if tab is None:
            self.feed.consumed(token)
            return
        for stream, text in batch:
            tab.view.append(text, stream)
        if tab.view.backlog() <= VIEW_BACKLOG_CHARS:
            self.feed.consumed(token)
        else:
            self._owed.add(token)
            self._credit_timer.start()

    def _pay_credits(self) -> None:
        # Runs only while some view is behind (a flood), never when idle.
        for token in list(self._owed):
            tab = self.tab_for_token(token)
            if tab is None or tab.view.backlog() <= VIEW_BACKLOG_CHARS:
                self._owed.discard(token)
                self.feed.consumed(token)
        if not self._owed:
            self._credit_timer.stop()

    def _on_follow_failed(self, token: int, message: str) -> None:
        tab = self.tab_for_token(token)
        if tab is not None:
            tab.view.append_notice(f"— cannot show this run's output: {message} —")

    def _on_dropped(self, token: int, first: int, last: int) -> None:
        tab = self.tab_for_token(token)
        if tab is not None:
            tab.view.append_notice(
                f"— output chunks {first}-{last} were not kept (over the stored-output cap) —"
            )

    def _on_ended(self, token: int, end: dict[str, object]) -> None:
        tab = self.tab_for_token(token)
        if tab is None:
            return
        status = str(end.get("status"))
        code, sig = end.get("exit_code"), end.get("signal")
        detail = f"(exit {code})" if code is not None else f"(signal {sig})" if sig else ""
        tab.set_status(status, detail)
        tab.view.append_notice(f"— {status} {detail} —".replace("  ", " "))

    # -- actions --------------------------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        """Cancel a run."""
        self._host.call(lambda rt: jobs.cancel(rt, run_id), None, self._show_error)

    def rerun(self, run_id: str) -> None:
        """Run the same command again in a new tab."""

        def started(record: RunRecord) -> None:
            self.open_run(record.id, run_command_text(record))

        self._host.call(lambda rt: jobs.rerun(rt, run_id), started, self._show_error)

    def send_input(self, run_id: str, text: str) -> None:
        """Type into a run's stdin."""
        self._host.call(lambda rt: jobs.send_input(rt, run_id, text), None, self._show_error)

    def _show_error(self, error: AtomError) -> None:
        self.message.show_error(str(error))
        QTimer.singleShot(8000, self.message.hide)

    # -- history ------------------------------------------------------------------------------

    def refresh_history(self) -> None:
        """Reload the history list."""
        self._host.call(jobs.run_history, self._show_history, self._show_error)

    def _show_history(self, records: list[RunRecord]) -> None:
        self.history.show_runs(records)
        for record in records:
            tab = self.tab_for(record.id)
            if tab is not None and record.status in RUN_ACTIVE:
                tab.set_status(record.status)

    def _on_event(self, event: Event) -> None:
        if event.kind == "run.changed":
            self._history_timer.start()
