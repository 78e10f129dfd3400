"""A plan the assistant proposed, as a card: each step, what it would run, and its decision.

Each step shows its description, its commands verbatim in a monospace box a
person can select from, its status as a chip, whether it needs approval or
runs by itself (its kind is set to ``auto``), why the deny list refuses it,
and Approve / Edit / Reject while it has not started, or "Show output" once
it ran a command. The card asks; the Assistant page acts (through the jobs)
and gives it the plan again when the agent says it changed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.status_chip import StatusChip
from atom_desktop.gui.style import Spacing, heading, muted
from atom_desktop.gui.translations import english_plural

# Types only: the assistant (pydantic, the store) loads on the agent thread.
if TYPE_CHECKING:
    from atom_desktop.assistant.service import PlanView, StepView

#: A step's status (PlanStepStatus) -> the chip's key.
STEP_CHIPS = {
    "proposed": "plan.proposed",
    "approved": "plan.approved",
    "rejected": "plan.rejected",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "denied": "denied",
}
#: A person may still approve, edit or reject a step in these.
UNDECIDED = frozenset({"proposed", "approved", "rejected"})
#: The most lines a command box shows before it scrolls.
COMMAND_LINES = 6

# A plan's state as a whole (assistant/plan_state.py), in words.
PLAN_STATES = {
    "waiting": QT_TRANSLATE_NOOP("PlanCard", "waiting for your approval"),
    "ready": QT_TRANSLATE_NOOP("PlanCard", "ready to run"),
    "running": QT_TRANSLATE_NOOP("PlanCard", "running"),
    "done": QT_TRANSLATE_NOOP("PlanCard", "done"),
    "failed": QT_TRANSLATE_NOOP("PlanCard", "stopped: a step failed or was refused"),
    "answered": QT_TRANSLATE_NOOP("PlanCard", "nothing to run"),
}


def as_link(button: QPushButton) -> None:
    """Draw ``button`` as a link: it shows something elsewhere rather than change anything."""
    button.setFlat(True)
    link = button.palette()
    link.setColor(link.ColorRole.ButtonText, link.color(link.ColorRole.Link))
    button.setPalette(link)
    underlined = button.font()
    underlined.setUnderline(True)
    button.setFont(underlined)
    button.setCursor(Qt.CursorShape.PointingHandCursor)


def _tr(text: str) -> str:
    return QCoreApplication.translate("PlanCard", text)


class StepRow(QFrame):
    """One step of a plan: what it does, its commands, its status and its buttons."""

    approve_requested = Signal(str, int, str)  # plan id, step index, digest shown
    reject_requested = Signal(str, int)
    edit_requested = Signal(str, int)
    output_requested = Signal(str)  # run id

    def __init__(self, view: StepView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        record = view.record
        number = record.index + 1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, Spacing.S, 0, Spacing.S)
        layout.setSpacing(Spacing.XS)

        top = QHBoxLayout()
        self.title = QLabel(self.tr("Step %1").replace("%1", str(number)))
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.chip = StatusChip(STEP_CHIPS.get(str(record.status), str(record.status)))
        self.mode = muted(
            QLabel(self.tr("runs by itself (auto)") if view.auto else self.tr("needs approval"))
        )
        top.addWidget(self.title)
        top.addWidget(self.chip)
        top.addWidget(self.mode)
        top.addStretch(1)
        layout.addLayout(top)

        # The commands are in the box below: the description's lines that only
        # repeat one are left out of the words above it.
        shown = view.commands and "\n".join(
            line for line in view.description.splitlines() if line.strip() not in view.commands
        )
        self.description = QLabel(shown or view.description)
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.description)

        self.commands: QPlainTextEdit | None = None
        if view.commands:
            box = QPlainTextEdit("\n".join(view.commands))
            box.setReadOnly(True)
            box.setTabChangesFocus(True)
            box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            box.setAccessibleName(self.tr("Commands of step %1").replace("%1", str(number)))
            lines = min(COMMAND_LINES, sum(c.count("\n") + 1 for c in view.commands))
            metrics = box.fontMetrics()
            box.setFixedHeight(metrics.lineSpacing() * lines + 2 * box.frameWidth() + 12)
            layout.addWidget(box)
            self.commands = box

        self.refusal: QLabel | None = None
        if view.refused:
            self.refusal = ErrorLabel(self)
            self.refusal.show_error(
                self.tr("Refused by the deny list: %1").replace("%1", view.refused)
            )
            layout.addWidget(self.refusal)

        self.result = muted(QLabel(_result_line(record.result)))
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setVisible(bool(self.result.text()))
        layout.addWidget(self.result)

        # Each made with its row as parent: shown before it is laid out, a
        # parentless button would open as a window of its own.
        buttons = QHBoxLayout()
        self.approve = QPushButton(self.tr("Approve"), self)
        self.approve.setAccessibleName(self.tr("Approve step %1").replace("%1", str(number)))
        self.edit = QPushButton(self.tr("Edit…"), self)
        self.edit.setAccessibleName(self.tr("Edit step %1").replace("%1", str(number)))
        self.reject = QPushButton(self.tr("Reject"), self)
        self.reject.setAccessibleName(self.tr("Reject step %1").replace("%1", str(number)))
        self.show_output = QPushButton(self.tr("Show output"), self)
        as_link(self.show_output)
        self.show_output.setAccessibleName(
            self.tr("Show the output of step %1").replace("%1", str(number))
        )
        undecided = str(record.status) in UNDECIDED
        self.approve.setEnabled(undecided and str(record.status) != "approved")
        self.edit.setEnabled(undecided)
        self.reject.setEnabled(undecided and str(record.status) != "rejected")
        for button in (self.approve, self.edit, self.reject):
            button.setVisible(undecided)
            buttons.addWidget(button)
        self.show_output.setVisible(record.run_id is not None)
        buttons.addWidget(self.show_output)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        # Bound methods of the row itself: no closure keeps a widget alive in a cycle.
        self.approve.clicked.connect(self._approve)
        self.reject.clicked.connect(self._reject)
        self.edit.clicked.connect(self._edit)
        self.show_output.clicked.connect(self._show_output)

    def _approve(self) -> None:
        record = self.view.record
        self.approve_requested.emit(record.plan_id, record.index, record.digest)

    def _reject(self) -> None:
        self.reject_requested.emit(self.view.record.plan_id, self.view.record.index)

    def _edit(self) -> None:
        self.edit_requested.emit(self.view.record.plan_id, self.view.record.index)

    def _show_output(self) -> None:
        if self.view.record.run_id is not None:
            self.output_requested.emit(self.view.record.run_id)


class PlanCard(QFrame):
    """A plan's steps and their decisions; its signals name the plan's step by index."""

    approve_requested = Signal(str, int, str)  # plan id, step index, digest shown
    reject_requested = Signal(str, int)
    edit_requested = Signal(str, int)
    approve_all_requested = Signal(str)
    output_requested = Signal(str)  # run id

    def __init__(self, view: PlanView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(self.backgroundRole().AlternateBase)
        self.plan_id = view.record.id
        self.view = view
        self.rows: list[StepRow] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(Spacing.M, Spacing.M, Spacing.M, Spacing.M)
        self._layout.setSpacing(Spacing.XS)
        header = QHBoxLayout()
        self.title = heading("", level=2)
        self.approve_all = QPushButton(self.tr("Approve all and run"))
        self.approve_all.setAccessibleName(self.tr("Approve every step of the plan and run it"))
        self.approve_all.clicked.connect(self._approve_all)
        header.addWidget(self.title, 1)
        header.addWidget(self.approve_all)
        self._layout.addLayout(header)
        self._steps = QVBoxLayout()
        self._steps.setSpacing(0)
        self._layout.addLayout(self._steps)
        self.set_view(view)

    def set_view(self, view: PlanView) -> None:
        """Show ``view`` (the plan as the agent has it now)."""
        self.view = view
        state = _tr(str(PLAN_STATES.get(str(view.state), str(view.state))))
        count = len(view.steps)
        self.title.setText(
            english_plural(self.tr("Plan of %n step(s): %1", "", count), count).replace("%1", state)
        )
        self.title.setAccessibleName(self.title.text())
        for row in self.rows:
            self._steps.removeWidget(row)
            row.hide()
            row.deleteLater()
        self.rows = []
        for step in view.steps:
            row = StepRow(step, self)
            row.approve_requested.connect(self.approve_requested)
            row.reject_requested.connect(self.reject_requested)
            row.edit_requested.connect(self.edit_requested)
            row.output_requested.connect(self.output_requested)
            self._steps.addWidget(row)
            self.rows.append(row)
        self.approve_all.setVisible(any(str(s.record.status) == "proposed" for s in view.steps))

    def _approve_all(self) -> None:
        self.approve_all_requested.emit(self.plan_id)


class StepEditDialog(QDialog):
    """A step's body as JSON, checked as a step before it is accepted."""

    def __init__(self, body: dict[str, Any], number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Edit step %1").replace("%1", str(number)))
        self.body: dict[str, Any] = body
        layout = QVBoxLayout(self)
        note = QLabel(
            self.tr(
                "The step as JSON. Once changed, it needs your approval again: an approval "
                "given before does not apply to the new text."
            )
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.editor = QPlainTextEdit(json.dumps(body, indent=2, ensure_ascii=False))
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setTabChangesFocus(True)
        self.editor.setAccessibleName(self.tr("The step as JSON"))
        self.editor.setMinimumSize(520, 220)
        layout.addWidget(self.editor, 1)
        self.error = ErrorLabel()
        self.error.setAccessibleName(self.tr("What is wrong with the step"))
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def accept(self) -> None:
        """Close only with a valid step; otherwise say what is wrong."""
        from pydantic import ValidationError  # noqa: PLC0415 - loaded by the agent already

        from atom_desktop.assistant.step_digest import parse_step, step_body  # noqa: PLC0415

        try:
            value = json.loads(self.editor.toPlainText())
        except json.JSONDecodeError as exc:
            self.error.show_error(
                self.tr("This is not JSON: %1 (line %2, column %3).")
                .replace("%1", exc.msg)
                .replace("%2", str(exc.lineno))
                .replace("%3", str(exc.colno))
            )
            return
        try:
            step = parse_step(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'step'}: {e['msg']}"
                for e in exc.errors()[:3]
            )
            self.error.show_error(self.tr("This is not a valid step: %1").replace("%1", problems))
            return
        self.body = step_body(step)
        super().accept()


def _result_line(result: dict[str, Any] | None) -> str:
    """A step's result in one line (its error, or what it printed, shortened)."""
    if not result:
        return ""
    if result.get("error"):
        return QCoreApplication.translate("PlanCard", "Error: %1").replace(
            "%1", str(result["error"])
        )
    parts = []
    if "exit_code" in result and result["exit_code"] is not None:
        parts.append(
            QCoreApplication.translate("PlanCard", "exit code %1").replace(
                "%1", str(result["exit_code"])
            )
        )
    out = str(result.get("stdout") or "").strip()
    if out:
        parts.append(QCoreApplication.translate("PlanCard", "printed: %1").replace("%1", out[:200]))
    return " · ".join(parts)
