"""Automations: the list with state and next run, each one's history and missed times, approvals."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.core.errors import AtomError
from atom_desktop.core.events import AutomationChanged, AutomationRunChanged, Event
from atom_desktop.core.statuses import AUTOMATION_RUN_ENDED, AUTOMATION_RUN_FAILED
from atom_desktop.gui import jobs
from atom_desktop.gui.agent_host import AgentHost
from atom_desktop.gui.column_sizing import fit_columns
from atom_desktop.gui.elide_delegate import MiddleElideDelegate
from atom_desktop.gui.empty_state import EmptyState
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.number_cells import set_number_cell
from atom_desktop.gui.pages.approvals_panel import ApprovalsPanel, local_time
from atom_desktop.gui.relative_time import absolute_time, relative_time, set_time_cell
from atom_desktop.gui.run_labels import run_command_text, short_command
from atom_desktop.gui.status_chip import StatusChipDelegate, set_status_cell, status_text

# Types only: the store and the scheduler load on the agent thread, not before the window.
if TYPE_CHECKING:
    from atom_desktop.automations.model import AutomationSpec
    from atom_desktop.automations.service import AutomationState
    from atom_desktop.gui.pages.automation_editor import AutomationEditor
    from atom_desktop.store.automation_runs import AutomationRunRecord
    from atom_desktop.store.runs import RunRecord

REFRESH_DELAY_MS = 200
TICK_MS = 30_000  # next-run times and "in 5 min" stay current while the page is shown
# A step's result can also be "denied" (its command was refused).
FAILED_STEP = frozenset({*AUTOMATION_RUN_FAILED, "denied"})
#: The automations table's columns that are not plain text.
NEXT_RUN_COLUMN, LAST_RESULT_COLUMN, TRIGGERS_COLUMN = 2, 3, 4


def trigger_summary(spec: AutomationSpec) -> str:
    """``cron 0 9 * * 1-5 · files`` (or ``by hand``)."""
    parts = []
    for trigger in spec.triggers:
        if trigger.type == "cron":
            parts.append(f"cron {trigger.expression}")
        elif trigger.type == "interval":
            parts.append(
                QCoreApplication.translate("AutomationsPage", "every %1").replace(
                    "%1", duration_text(trigger.seconds)
                )
            )
        elif trigger.type == "date":
            parts.append(
                QCoreApplication.translate("AutomationsPage", "once at %1").replace(
                    "%1", f"{trigger.at:%Y-%m-%d %H:%M}"
                )
            )
        else:
            parts.append(
                QCoreApplication.translate("AutomationsPage", "files: %1").replace(
                    "%1", ", ".join(trigger.paths)
                )
            )
    return (
        short_command(" · ".join(parts), 80)
        if parts
        else QCoreApplication.translate("AutomationsPage", "by hand")
    )


def duration_text(seconds: float) -> str:
    """``90`` -> ``90 s``, ``3600`` -> ``1 h``, ``5400`` -> ``90 min``: the largest whole unit."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def step_result(step: dict[str, Any]) -> str:
    """The one-line outcome of a step result."""
    if step.get("error"):
        return str(step["error"])
    if step.get("exit_code") is not None:
        return QCoreApplication.translate("AutomationsPage", "exit %1").replace(
            "%1", str(step["exit_code"])
        )
    if step.get("http_status") is not None:
        return f"HTTP {step['http_status']}"
    if step.get("task_id"):
        return QCoreApplication.translate("AutomationsPage", "task %1").replace(
            "%1", str(step["task_id"])
        )
    if step.get("title"):
        return QCoreApplication.translate("AutomationsPage", "notified: %1").replace(
            "%1", str(step["title"])
        )
    return ""


def step_details(step: dict[str, Any]) -> str:
    """What a step result holds, for the details box."""
    parts = [f"{step_label(step)} — {status_text(str(step.get('status')))}"]
    outcome = step_result(step)
    if outcome:
        parts.append(outcome)
    for key, label in (
        ("stdout", QCoreApplication.translate("AutomationsPage", "Output")),
        ("body", QCoreApplication.translate("AutomationsPage", "Response body")),
        ("message", QCoreApplication.translate("AutomationsPage", "Message")),
    ):
        text = step.get(key)
        if text:
            parts.append(f"{label}:\n{text}")
    if step.get("run_id"):
        parts.append(
            QCoreApplication.translate(
                "AutomationsPage",
                "Open output shows the command's complete output (stdout and stderr).",
            )
        )
    return "\n\n".join(parts)


def step_label(step: dict[str, Any]) -> str:
    """``shell backup`` (type and name)."""
    name = step.get("name")
    return f"{step.get('type')} {name}" if name else str(step.get("type"))


class AutomationsPage(QWidget):
    """Automations with their runs, missed times and the approvals inbox."""

    open_run = Signal(str, str)  # run id, command (the Console shows it)
    loaded = Signal(int)  # how many automations are shown
    listed = Signal(dict)  # automation id -> name, after every load (the tray's menu)

    def __init__(self, host: AgentHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.states: dict[str, AutomationState] = {}
        self.runs: dict[str, AutomationRunRecord] = {}
        self.editor: AutomationEditor | None = None
        self._pending_select: str | None = None
        self._history_owner: str | None = None  # whose history is shown
        self._pending_run: str | None = None  # a run started here: select it when it shows

        self.new_button = QPushButton(self.tr("New (Ctrl+N)"))
        self.edit_button = QPushButton(self.tr("Edit"))
        self.run_button = QPushButton(self.tr("Run now (Ctrl+R)"))
        self.enable_button = QPushButton(self.tr("Disable"))
        self.delete_button = QPushButton(self.tr("Delete"))
        for button, name in (
            (self.new_button, self.tr("New automation")),
            (self.edit_button, self.tr("Edit the selected automation")),
            (self.run_button, self.tr("Run the selected automation now")),
            (self.enable_button, self.tr("Enable or disable the selected automation")),
            (self.delete_button, self.tr("Delete the selected automation")),
        ):
            button.setAccessibleName(name)
        self.message = ErrorLabel()

        self.table = QTreeWidget()
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setHeaderLabels(
            [
                self.tr("Name"),
                self.tr("State"),
                self.tr("Next run"),
                self.tr("Last result"),
                self.tr("Triggers"),
            ]
        )
        self.table.setItemDelegateForColumn(LAST_RESULT_COLUMN, StatusChipDelegate(self.table))
        self.table.setItemDelegateForColumn(TRIGGERS_COLUMN, MiddleElideDelegate(self.table))
        fit_columns(self.table, elastic=TRIGGERS_COLUMN)
        self.table.setAccessibleName(self.tr("Automations"))
        self.empty = EmptyState(
            self.tr("No automations yet"),
            self.tr(
                "An automation runs steps (commands, web requests, notifications) on a "
                "schedule, when files change, or when you ask. Each one is listed here with "
                "its next run and its last result."
            ),
            action=self.tr("New automation (Ctrl+N)"),
        )
        self.empty.action_requested.connect(self.new_automation)

        self.runs_tree = QTreeWidget()
        self.runs_tree.setRootIsDecorated(False)
        self.runs_tree.setUniformRowHeights(True)
        self.runs_tree.setHeaderLabels(
            [self.tr("Started"), self.tr("Trigger"), self.tr("Status"), self.tr("Error")]
        )
        self.runs_tree.setItemDelegateForColumn(2, StatusChipDelegate(self.runs_tree))
        fit_columns(self.runs_tree)
        self.runs_tree.setAccessibleName(self.tr("Run history"))
        self.steps_tree = QTreeWidget()
        self.steps_tree.setRootIsDecorated(False)
        self.steps_tree.setUniformRowHeights(True)
        self.steps_tree.setHeaderLabels(
            [self.tr("#"), self.tr("Step"), self.tr("Status"), self.tr("Result")]
        )
        self.steps_tree.setItemDelegateForColumn(2, StatusChipDelegate(self.steps_tree))
        fit_columns(self.steps_tree)
        self.steps_tree.setAccessibleName(self.tr("Steps of the selected run"))
        self.run_label = QLabel(self.tr("Select a run to see its steps."))
        self.run_label.setWordWrap(True)
        self.open_output_button = QPushButton(self.tr("Open output"))
        self.open_output_button.setAccessibleName(
            self.tr("Open the step's command output in the Console")
        )
        self.cancel_run_button = QPushButton(self.tr("Cancel run"))
        self.cancel_run_button.setAccessibleName(self.tr("Cancel the selected run"))
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setAccessibleName(self.tr("Step details"))
        self.details.setPlaceholderText(self.tr("The selected step's result and output"))
        self.missed_tree = QTreeWidget()
        self.missed_tree.setRootIsDecorated(False)
        self.missed_tree.setUniformRowHeights(True)
        self.missed_tree.setHeaderLabels(
            [self.tr("Scheduled for"), self.tr("Why"), self.tr("What was done"), self.tr("Noticed")]
        )
        fit_columns(self.missed_tree, elastic=2)
        self.missed_tree.setAccessibleName(self.tr("Missed times"))
        self.approvals = ApprovalsPanel(host)
        self.approvals.new_automation_requested.connect(self.new_automation)

        # Layout: buttons; the list over the details (history | missed).
        bar = QHBoxLayout()
        for button in (self.new_button, self.edit_button, self.run_button, self.enable_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.delete_button)

        run_panel = QWidget()
        run_layout = QVBoxLayout(run_panel)
        run_layout.setContentsMargins(0, 0, 0, 0)
        run_tools = QHBoxLayout()
        run_tools.addWidget(self.run_label, 1)
        run_tools.addWidget(self.open_output_button)
        run_tools.addWidget(self.cancel_run_button)
        run_layout.addLayout(run_tools)
        steps_split = QSplitter(Qt.Orientation.Vertical)
        steps_split.addWidget(self.steps_tree)
        steps_split.addWidget(self.details)
        steps_split.setSizes([120, 120])
        run_layout.addWidget(steps_split, 1)
        history = QSplitter()
        history.addWidget(self.runs_tree)
        history.addWidget(run_panel)
        history.setSizes([470, 470])
        self.detail_tabs = QTabWidget()
        self.detail_tabs.setDocumentMode(True)
        self.detail_tabs.addTab(history, self.tr("History"))
        self.detail_tabs.addTab(self.missed_tree, self.tr("Missed times"))

        listing = QWidget()
        list_layout = QVBoxLayout(listing)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.table, 1)
        list_layout.addWidget(self.empty, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(listing)
        split.addWidget(self.detail_tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 400])
        automations = QWidget()
        automations_layout = QVBoxLayout(automations)
        automations_layout.setContentsMargins(0, 4, 0, 0)
        automations_layout.addLayout(bar)
        automations_layout.addWidget(self.message)
        automations_layout.addWidget(split, 1)
        self.sections = QTabWidget()
        self.sections.addTab(automations, self.tr("Automations"))
        self.approvals_index = self.sections.addTab(self.approvals, self.tr("Approvals (0)"))
        QVBoxLayout(self).addWidget(self.sections)

        # Behaviour.
        self._list_timer = self._debounce(self.refresh)
        self._history_timer = self._debounce(self.refresh_history)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        self.new_button.clicked.connect(self.new_automation)
        self.edit_button.clicked.connect(self.edit_selected)
        self.run_button.clicked.connect(self.run_selected)
        self.enable_button.clicked.connect(self.toggle_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.table.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.table.itemActivated.connect(lambda *_: self.edit_selected())
        self.runs_tree.currentItemChanged.connect(lambda *_: self._show_selected_run())
        self.steps_tree.currentItemChanged.connect(lambda *_: self._show_selected_step())
        self.steps_tree.itemActivated.connect(lambda *_: self.open_selected_output())
        self.open_output_button.clicked.connect(self.open_selected_output)
        self.cancel_run_button.clicked.connect(self.cancel_selected_run)
        self.approvals.pending_changed.connect(self._on_pending)
        for keys, slot in (
            (QKeySequence.StandardKey.New, self.new_automation),
            (QKeySequence("Ctrl+R"), self.run_selected),
            (QKeySequence.StandardKey.Delete, self.delete_selected),
        ):
            # On the list's tab only: Delete in the approvals inbox must not delete automations.
            shortcut = QShortcut(keys, automations)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        host.when_started(self.refresh)
        host.agent_event.connect(self._on_event)
        self._show([])

    def _debounce(self, slot: Any) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(REFRESH_DELAY_MS)
        timer.timeout.connect(slot)
        return timer

    # -- the list ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Fresh data whenever the page comes into view."""
        super().showEvent(event)
        if self._host.is_running:
            self.refresh()

    def refresh(self) -> None:
        """Reload the automations (and the selected one's history)."""
        self._host.call(jobs.list_automations, self._show, self._show_error)

    def _show(self, states: list[AutomationState]) -> None:
        selected = self._pending_select or self.selected_id()
        self._pending_select = None
        self.states = {s.record.id: s for s in states}
        self.table.blockSignals(True)
        self.table.clear()
        now = datetime.now(UTC)
        for state in states:
            item = QTreeWidgetItem(self._columns(state, now))
            self._decorate(item, state)
            item.setData(0, Qt.ItemDataRole.UserRole, state.record.id)
            item.setToolTip(0, state.spec.description or state.record.name)
            item.setToolTip(4, item.text(4))
            if not state.record.enabled:
                for column in range(2):
                    item.setForeground(column, self.palette().placeholderText())
            self.table.addTopLevelItem(item)
            if state.record.id == selected:
                self.table.setCurrentItem(item)
        first = self.table.topLevelItem(0)
        if self.table.currentItem() is None and first is not None:
            self.table.setCurrentItem(first)
        self.table.blockSignals(False)
        self.table.setVisible(bool(states))
        self.empty.setVisible(not states)
        self._selection_changed()
        self.listed.emit({s.record.id: s.record.name for s in states})
        self.loaded.emit(len(states))

    def _columns(self, state: AutomationState, now: datetime) -> list[str]:
        record, spec, last = state.record, state.spec, state.last_run
        on = self.tr("On") if record.enabled else self.tr("Off")
        if state.active_runs:
            count = state.active_runs
            on += self.tr(" · running") if count == 1 else self.tr(" · %n running", "", count)
        if not record.enabled:
            next_run = "—"
        elif state.next_fire_at is not None:
            next_run = relative_time(state.next_fire_at, now)
        elif any(t.type == "file" for t in spec.triggers):
            next_run = self.tr("when files change")
        else:
            next_run = self.tr("by hand only")
        result = self.tr("never run") if last is None else status_text(last.status)
        return [record.name, on, next_run, result, trigger_summary(spec)]

    @staticmethod
    def _decorate(item: QTreeWidgetItem, state: AutomationState) -> None:
        """Chip for the last result, exact times in the tooltips."""
        last = state.last_run
        if state.record.enabled and state.next_fire_at is not None:
            item.setToolTip(NEXT_RUN_COLUMN, absolute_time(state.next_fire_at))
        if last is not None:
            set_status_cell(item, LAST_RESULT_COLUMN, last.status)
            item.setToolTip(
                LAST_RESULT_COLUMN,
                f"{status_text(last.status)}, {relative_time(last.created_at)} "
                f"({absolute_time(last.created_at)})",
            )

    def selected_id(self) -> str | None:
        """The id of the selected automation, if any."""
        item = self.table.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected(self) -> AutomationState | None:
        """The selected automation, if any."""
        automation_id = self.selected_id()
        return self.states.get(automation_id) if automation_id is not None else None

    def select(self, automation_id: str) -> None:
        """Select an automation (now, or when the list next shows it)."""
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == automation_id:
                self.table.setCurrentItem(item)
                return
        self._pending_select = automation_id

    def _selection_changed(self) -> None:
        state = self.selected()
        for button in (self.edit_button, self.run_button, self.enable_button, self.delete_button):
            button.setEnabled(state is not None)
        self.enable_button.setText(
            self.tr("Disable") if state is None or state.record.enabled else self.tr("Enable")
        )
        if state is None:
            self._history_owner = None
            self._show_history(None)
        elif self._history_owner != state.record.id:
            self._show_history(None)
            self.refresh_history()

    # -- history --------------------------------------------------------------------------------

    def refresh_history(self) -> None:
        """Reload the selected automation's runs and missed times."""
        automation_id = self.selected_id()
        if automation_id is None:
            return
        self._history_owner = automation_id
        self._host.call(
            lambda rt: jobs.automation_history(rt, automation_id),
            self._show_history,
            self._show_error,
        )

    def _show_history(self, history: jobs.AutomationHistory | None) -> None:
        if history is not None and history.automation_id != self.selected_id():
            return  # an answer about an automation no longer selected
        # The newest run stays selected as newer ones come (the list follows them).
        runs = history.runs if history is not None else []
        top = self.runs_tree.topLevelItem(0)
        following = top is None or self.runs_tree.currentItem() is top
        selected_run = self.selected_run_id()
        if runs and following:
            selected_run = runs[0].id
        if self._pending_run is not None:
            selected_run = self._pending_run
            if any(r.id == self._pending_run for r in runs):
                self._pending_run = None
        self.runs = {r.id: r for r in runs}
        self.runs_tree.blockSignals(True)
        self.runs_tree.clear()
        for run in runs:
            item = QTreeWidgetItem(["", run.trigger_kind, "", run.error or ""])
            set_time_cell(item, 0, run.created_at)
            set_status_cell(item, 2, run.status)
            item.setData(0, Qt.ItemDataRole.UserRole, run.id)
            item.setToolTip(3, run.error or "")
            self.runs_tree.addTopLevelItem(item)
            if run.id == selected_run:
                self.runs_tree.setCurrentItem(item)
        first = self.runs_tree.topLevelItem(0)
        if self.runs_tree.currentItem() is None and first is not None:
            self.runs_tree.setCurrentItem(first)
        self.runs_tree.blockSignals(False)
        self.missed_tree.clear()
        for missed in history.missed if history else []:
            self.missed_tree.addTopLevelItem(
                QTreeWidgetItem(
                    [
                        local_time(missed.scheduled_at, seconds=True),
                        _missed_words(MISSED_REASONS, missed.reason),
                        _missed_words(MISSED_ACTIONS, missed.action),
                        local_time(missed.recorded_at, seconds=True),
                    ]
                )
            )
        count = len(history.missed) if history else 0
        self.detail_tabs.setTabText(
            1, self.tr("Missed times ({0})").format(count) if count else self.tr("Missed times")
        )
        self._show_selected_run()

    def selected_run_id(self) -> str | None:
        """The id of the selected automation run, if any."""
        item = self.runs_tree.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else None

    def selected_run(self) -> AutomationRunRecord | None:
        """The selected automation run, if any."""
        run_id = self.selected_run_id()
        return self.runs.get(run_id) if run_id is not None else None

    def _show_selected_run(self) -> None:
        run = self.selected_run()
        selected_step = self.steps_tree.currentIndex().row()
        self.steps_tree.blockSignals(True)
        self.steps_tree.clear()
        if run is None:
            self.run_label.setText(self.tr("Select a run to see its steps."))
        else:
            ended = (
                self.tr(", ended %1").replace("%1", local_time(run.ended_at, seconds=True))
                if run.ended_at
                else ""
            )
            trigger = run.trigger or {}
            late = self.tr(" (late)") if trigger.get("late") else ""
            self.run_label.setText(
                self.tr("<b>{0}</b> · {1}{2} run{3}").format(
                    html.escape(status_text(run.status)),
                    html.escape(run.trigger_kind),
                    late,
                    html.escape(ended),
                )
            )
            for step in run.steps:
                item = QTreeWidgetItem(["", step_label(step), "", step_result(step)])
                set_number_cell(item, 0, int(step.get("index", 0)) + 1)
                set_status_cell(item, 2, str(step.get("status")))
                item.setToolTip(3, step_result(step))
                self.steps_tree.addTopLevelItem(item)
            chosen = self.steps_tree.topLevelItem(max(0, selected_step))
            failed = next(
                (i for i, s in enumerate(run.steps) if s.get("status") in FAILED_STEP), None
            )
            if selected_step < 0 and failed is not None:
                chosen = self.steps_tree.topLevelItem(failed)
            if chosen is not None:
                self.steps_tree.setCurrentItem(chosen)
        self.steps_tree.blockSignals(False)
        self.cancel_run_button.setEnabled(
            run is not None and run.status not in AUTOMATION_RUN_ENDED
        )
        self._show_selected_step()

    def selected_step(self) -> dict[str, Any] | None:
        """The selected step result of the selected run, if any."""
        run = self.selected_run()
        row = self.steps_tree.currentIndex().row()
        if run is None or not 0 <= row < len(run.steps):
            return None
        return run.steps[row]

    def _show_selected_step(self) -> None:
        step = self.selected_step()
        self.details.setPlainText(step_details(step) if step is not None else "")
        self.open_output_button.setEnabled(step is not None and bool(step.get("run_id")))

    # -- acting ---------------------------------------------------------------------------------

    def new_automation(self) -> AutomationEditor:
        """Open the editor for a new automation."""
        return self._open_editor(None, None)

    def edit_selected(self) -> AutomationEditor | None:
        """Open the editor on the selected automation."""
        state = self.selected()
        if state is None:
            return None
        return self._open_editor(state.spec, state.record.id)

    def _open_editor(
        self, spec: AutomationSpec | None, automation_id: str | None
    ) -> AutomationEditor:
        # Loaded on first use: the model and APScheduler need not delay the window.
        from atom_desktop.gui.pages.automation_editor import AutomationEditor  # noqa: PLC0415

        if self.editor is not None:
            self.editor.close()
        editor = AutomationEditor(spec, automation_id=automation_id, parent=self)
        editor.save_requested.connect(lambda s: self._save(editor, s))
        self.editor = editor
        editor.open()
        return editor

    def _save(self, editor: AutomationEditor, spec: AutomationSpec) -> None:
        automation_id = editor.automation_id

        def saved(state: AutomationState) -> None:
            editor.saved()
            self._pending_select = state.record.id
            self.refresh()

        if automation_id is None:
            self._host.call(lambda rt: jobs.create_automation(rt, spec), saved, editor.save_failed)
        else:
            self._host.call(
                lambda rt: jobs.replace_automation(rt, automation_id, spec),
                saved,
                editor.save_failed,
            )

    def run_selected(self) -> None:
        """Run the selected automation now; its run shows in the history."""
        automation_id = self.selected_id()
        if automation_id is not None:
            self.run_automation(automation_id)

    def run_automation(self, automation_id: str) -> None:
        """Run an automation now (the Run now button, the tray menu)."""

        def started(run: AutomationRunRecord) -> None:
            self.detail_tabs.setCurrentIndex(0)
            self._pending_run = run.id
            if self.selected_id() == run.automation_id:
                self._history_timer.start()

        self._host.call(
            lambda rt: jobs.trigger_automation(rt, automation_id), started, self._show_error
        )

    def toggle_selected(self) -> None:
        """Enable a disabled automation, or disable an enabled one."""
        state = self.selected()
        if state is None:
            return
        automation_id, enabled = state.record.id, not state.record.enabled
        self._host.call(
            lambda rt: jobs.set_automation_enabled(rt, automation_id, enabled),
            lambda _: self.refresh(),
            self._show_error,
        )

    def delete_selected(self, *, confirm: bool = True) -> None:
        """Delete the selected automation and its history (after asking)."""
        state = self.selected()
        if state is None:
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                self.tr("Delete automation"),
                self.tr("Delete “{0}” and its run history? Runs in progress are cancelled.").format(
                    state.record.name
                ),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        automation_id = state.record.id
        self._host.call(
            lambda rt: jobs.delete_automation(rt, automation_id),
            lambda _: self.refresh(),
            self._show_error,
        )

    def open_selected_output(self) -> None:
        """Show the selected shell step's command output in the Console."""
        step = self.selected_step()
        if step is None or not step.get("run_id"):
            return
        run_id = str(step["run_id"])

        def opened(record: RunRecord) -> None:
            self.open_run.emit(record.id, run_command_text(record))

        self._host.call(lambda rt: jobs.run_record(rt, run_id), opened, self._show_error)

    def cancel_selected_run(self) -> None:
        """Cancel the selected run (and its command)."""
        run = self.selected_run()
        if run is None:
            return
        run_id = run.id
        self._host.call(
            lambda rt: jobs.cancel_automation_run(rt, run_id),
            lambda _: self._history_timer.start(),
            self._show_error,
        )

    def show_approvals(self) -> None:
        """Show the approvals inbox."""
        self.sections.setCurrentIndex(self.approvals_index)
        self.approvals.refresh()

    # -- events ----------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, AutomationChanged | AutomationRunChanged):
            self._list_timer.start()
            if isinstance(payload, AutomationRunChanged) and (
                payload.automation_id == self.selected_id()
            ):
                self._history_timer.start()

    def _on_tick(self) -> None:
        if self.isVisible() and self._host.is_running:
            self.refresh()

    def _on_pending(self, pending: dict[str, str]) -> None:
        self.sections.setTabText(
            self.approvals_index, self.tr("Approvals ({0})").format(len(pending))
        )

    def _show_error(self, error: AtomError) -> None:
        self.message.show_error(str(error))
        QTimer.singleShot(8000, self.message.hide)


# Why a time was missed and what was done about it, marked for translation.
MISSED_REASONS = {
    "agent_stopped": QT_TRANSLATE_NOOP("AutomationsPage", "the agent was not running"),
    "late": QT_TRANSLATE_NOOP("AutomationsPage", "the computer slept or stalled"),
    "paused": QT_TRANSLATE_NOOP("AutomationsPage", "the agent was paused"),
}
MISSED_ACTIONS = {
    "ran": QT_TRANSLATE_NOOP("AutomationsPage", "ran late"),
    "coalesced": QT_TRANSLATE_NOOP("AutomationsPage", "ran once for all"),
    "skipped": QT_TRANSLATE_NOOP("AutomationsPage", "skipped"),
}


def _missed_words(table: dict[str, object], key: str) -> str:
    words = table.get(key)
    return key if words is None else QCoreApplication.translate("AutomationsPage", str(words))
