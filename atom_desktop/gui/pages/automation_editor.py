"""The dialog that creates or edits an automation.

Four tabs: the general policies, a trigger builder (each schedule shows its
next fire times as the person types), a steps editor, and the whole spec as
JSON for power users. The form and the JSON are kept in sync when the tab
changes; Save validates with :class:`AutomationSpec` and the agent checks
the triggers again (its errors name the field, e.g. ``triggers[0].include[0]``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.automations.model import AutomationSpec, spec_json
from atom_desktop.core.errors import AtomError
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.automation_fields import (
    APPROVALS,
    MISSED,
    OVERLAPS,
    STEP_TYPES,
    FormError,
    NumberBox,
    choice_box,
    choose,
    form_widget,
    number,
    text_edit,
    validation_lines,
    words,
)
from atom_desktop.gui.pages.step_forms import (
    STEP_FORMS,
    AnyStepForm,
)
from atom_desktop.gui.pages.trigger_form import (
    TriggerForm,
)

# -- the dialog ------------------------------------------------------------------------------


class ItemList(QWidget):
    """A list of forms with the buttons to add, move and remove them."""

    def __init__(self, name: str, empty: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forms: list[QWidget] = []
        self.list = QListWidget()
        self.list.setAccessibleName(name)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget()
        self.empty = QLabel(empty)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty)
        self.buttons = QHBoxLayout()
        self.up = QPushButton(self.tr("Up"))
        self.down = QPushButton(self.tr("Down"))
        self.remove = QPushButton(self.tr("Remove"))
        for button, label in ((self.up, "up"), (self.down, "down")):
            button.setAccessibleName(
                self.tr("Move the selected {0} {1}").format(name.lower().rstrip("s"), label)
            )
        self.remove.setAccessibleName(
            self.tr("Remove the selected {0}").format(name.lower().rstrip("s"))
        )
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(self.buttons)
        left_layout.addWidget(self.list, 1)
        moves = QHBoxLayout()
        moves.addWidget(self.up)
        moves.addWidget(self.down)
        moves.addWidget(self.remove)
        left_layout.addLayout(moves)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.stack)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.list.currentRowChanged.connect(self._show)
        self.up.clicked.connect(lambda: self.move_selected(-1))
        self.down.clicked.connect(lambda: self.move_selected(1))
        self.remove.clicked.connect(self.remove_current)
        self._show(-1)

    def add(self, form: QWidget, summary: Callable[[], str], changed: Any) -> None:
        """Append ``form`` and select it."""
        self.forms.append(form)
        self.stack.addWidget(form)
        self.list.addItem(summary())
        self._relabel(form, summary)
        row = len(self.forms) - 1
        changed.connect(lambda: self._relabel(form, summary))
        self.list.setCurrentRow(row)

    def clear(self) -> None:
        """Remove every form."""
        for form in self.forms:
            self.stack.removeWidget(form)
            form.deleteLater()
        self.forms.clear()
        self.list.clear()
        self._show(-1)

    def move_selected(self, by: int) -> None:
        """Move the selected form up (-1) or down (1)."""
        row = self.list.currentRow()
        target = row + by
        if row < 0 or not 0 <= target < len(self.forms):
            return
        self.forms.insert(target, self.forms.pop(row))
        self.list.insertItem(target, self.list.takeItem(row))
        self.list.setCurrentRow(target)

    def remove_current(self) -> None:
        """Remove the selected form."""
        row = self.list.currentRow()
        if row < 0:
            return
        form = self.forms.pop(row)
        self.stack.removeWidget(form)
        form.deleteLater()
        self.list.takeItem(row)
        self._show(self.list.currentRow())

    def select(self, row: int) -> None:
        """Show form ``row``."""
        if 0 <= row < len(self.forms):
            self.list.setCurrentRow(row)

    def _relabel(self, form: QWidget, summary: Callable[[], str]) -> None:
        if form in self.forms:
            item = self.list.item(self.forms.index(form))
            if item is not None:
                item.setText(summary())
                item.setToolTip(summary())

    def _show(self, row: int) -> None:
        self.stack.setCurrentWidget(self.forms[row] if 0 <= row < len(self.forms) else self.empty)
        count = len(self.forms)
        self.up.setEnabled(row > 0)
        self.down.setEnabled(0 <= row < count - 1)
        self.remove.setEnabled(row >= 0)


class AutomationEditor(QDialog):
    """Every field of an automation; Save emits ``save_requested`` with a validated spec.

    The page stores it through the agent and calls :meth:`saved` or
    :meth:`save_failed`; the dialog stays open until the agent agrees.
    """

    save_requested = Signal(object)  # AutomationSpec

    def __init__(
        self,
        spec: AutomationSpec | None = None,
        *,
        automation_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.automation_id = automation_id
        self.setWindowTitle(
            self.tr("Edit “{0}”").format(spec.name) if spec else self.tr("New automation")
        )
        line = self.fontMetrics().height()  # sizes follow the system font
        self.resize(line * 50, line * 36)
        self._base: dict[str, Any] = {}
        self.tabs = QTabWidget()

        # General
        self.name = QLineEdit()
        self.name.setAccessibleName(self.tr("Name"))
        self.description = QLineEdit()
        self.description.setAccessibleName(self.tr("Description"))
        self.enabled = QCheckBox(self.tr("Enabled (its triggers fire)"))
        self.approval = choice_box(APPROVALS, self.tr("Shell steps"))
        self.approval_timeout = NumberBox(
            1, 7 * 86400, decimals=0, suffix=" s", name=self.tr("Wait")
        )
        self.missed = choice_box(MISSED, self.tr("Missed times"))
        self.grace = NumberBox(0, 86400, decimals=0, suffix=" s", name=self.tr("Grace"))
        self.overlap = choice_box(OVERLAPS, self.tr("Overlapping runs"))
        self.timeout = NumberBox(0, 7 * 86400, decimals=0, suffix=" s", name=self.tr("Run timeout"))
        self.timeout.setSpecialValueText(self.tr("no limit"))
        self.notify_success = QCheckBox(self.tr("when a run succeeds"))
        self.notify_failure = QCheckBox(self.tr("when a run fails"))
        general, form = form_widget()
        form.setContentsMargins(12, 12, 12, 12)
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("&Description:"), self.description)
        form.addRow("", self.enabled)
        form.addRow(self.tr("S&hell steps:"), self.approval)
        form.addRow(self.tr("Wait for a decision:"), self.approval_timeout)
        form.addRow(self.tr("&Missed times:"), self.missed)
        form.addRow(self.tr("Late but on time within:"), self.grace)
        form.addRow(self.tr("&Overlapping runs:"), self.overlap)
        form.addRow(self.tr("&Timeout of a run:"), self.timeout)
        notify_row = QHBoxLayout()
        notify_row.addWidget(self.notify_success)
        notify_row.addWidget(self.notify_failure)
        notify_row.addStretch(1)
        form.addRow(self.tr("Notify me:"), notify_row)
        self.tabs.addTab(general, self.tr("&General"))

        # Triggers
        self.triggers = ItemList(
            self.tr("Triggers"),
            self.tr("No triggers: it runs only by hand (Run now), from the tray or the API."),
        )
        add_schedule = QPushButton(self.tr("Add schedule"))
        add_schedule.setAccessibleName(self.tr("Add a schedule trigger"))
        add_files = QPushButton(self.tr("Add file trigger"))
        add_files.setAccessibleName(self.tr("Add a file trigger"))
        self.triggers.buttons.addWidget(add_schedule)
        self.triggers.buttons.addWidget(add_files)
        add_schedule.clicked.connect(lambda: self.add_trigger({"type": "cron"}))
        add_files.clicked.connect(
            lambda: self.add_trigger({"type": "file", "paths": [], "recursive": True})
        )
        self.tabs.addTab(self.triggers, self.tr("T&riggers"))

        # Steps
        self.steps = ItemList(self.tr("Steps"), self.tr("No steps yet: add at least one."))
        add_step = QPushButton(self.tr("Add step"))
        add_step.setAccessibleName(self.tr("Add a step"))
        menu = QMenu(add_step)
        for kind, label in STEP_TYPES:
            menu.addAction(words(label), functools.partial(self.add_step, {"type": kind}))
        add_step.setMenu(menu)
        self.steps.buttons.addWidget(add_step)
        self.tabs.addTab(self.steps, self.tr("&Steps"))

        # JSON
        self.json_text = text_edit("", self.tr("Automation as JSON"), code=True)
        json_page = QWidget()
        json_layout = QVBoxLayout(json_page)
        note = QLabel(
            self.tr(
                "The whole automation as JSON, as the API takes it. Changes here reach the "
                "other tabs when you leave this one."
            )
        )
        note.setWordWrap(True)
        json_layout.addWidget(note)
        json_layout.addWidget(self.json_text, 1)
        self.json_index = self.tabs.addTab(json_page, self.tr("&JSON"))

        self.error = ErrorLabel()
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        self._tab = 0
        self.tabs.currentChanged.connect(self._tab_changed)

        self.load(spec_json(spec) if spec is not None else {"name": "", "steps": []})
        self.name.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the form ----------------------------------------------------------------------------

    def add_trigger(self, data: dict[str, Any]) -> TriggerForm:
        """Add a trigger to the list and show it."""
        form = TriggerForm(data)
        self.triggers.add(form, form.summary, form.changed)
        return form

    def add_step(self, data: dict[str, Any], *, focus: bool = True) -> AnyStepForm:
        """Add a step to the list and show it."""
        form = STEP_FORMS[data["type"]](data)
        self.steps.add(form, form.summary, form.changed)
        if focus:
            form.focus()
        return form

    def trigger_forms(self) -> list[TriggerForm]:
        """The trigger forms, in order."""
        return [f for f in self.triggers.forms if isinstance(f, TriggerForm)]

    def step_forms(self) -> list[AnyStepForm]:
        """The step forms, in order."""
        return [f for f in self.steps.forms if isinstance(f, AnyStepForm)]

    def load(self, data: dict[str, Any]) -> None:
        """Fill the form from a spec as JSON (fields the form has no place for are kept)."""
        fields = AutomationSpec.model_fields
        self._base = dict(data)
        self.name.setText(str(data.get("name") or ""))
        self.description.setText(str(data.get("description") or ""))
        self.enabled.setChecked(bool(data.get("enabled", True)))
        choose(self.approval, data.get("approval", fields["approval"].default))
        self.approval_timeout.setValue(
            float(data.get("approval_timeout_s") or fields["approval_timeout_s"].default)
        )
        choose(self.missed, data.get("missed", fields["missed"].default))
        grace = data.get("misfire_grace_s")
        self.grace.setValue(float(fields["misfire_grace_s"].default if grace is None else grace))
        choose(self.overlap, data.get("overlap", fields["overlap"].default))
        timeout = data["timeout_s"] if "timeout_s" in data else fields["timeout_s"].default
        self.timeout.setValue(float(timeout or 0))
        notify = data.get("notify") or {}
        self.notify_success.setChecked(bool(notify.get("success", False)))
        self.notify_failure.setChecked(bool(notify.get("failure", True)))
        self.triggers.clear()
        for trigger in data.get("triggers") or []:
            self.add_trigger(trigger)
        self.triggers.select(0)
        self.steps.clear()
        for step in data.get("steps") or []:
            self.add_step(step, focus=False)
        self.steps.select(0)

    def form_data(self) -> dict[str, Any]:
        """The form as a spec in JSON (FormError when a field cannot be read)."""
        timeout = self.timeout.value()
        data = {
            **self._base,
            "name": self.name.text().strip(),
            "description": self.description.text(),
            "enabled": self.enabled.isChecked(),
            "triggers": [form.to_dict() for form in self.trigger_forms()],
            "steps": [form.to_dict(f"steps[{i}]") for i, form in enumerate(self.step_forms())],
            "approval": self.approval.currentData(),
            "approval_timeout_s": number(self.approval_timeout.value()),
            "missed": self.missed.currentData(),
            "misfire_grace_s": number(self.grace.value()),
            "overlap": self.overlap.currentData(),
            "timeout_s": number(timeout) if timeout else None,
            "notify": {
                "success": self.notify_success.isChecked(),
                "failure": self.notify_failure.isChecked(),
            },
        }
        order = list(AutomationSpec.model_fields)  # the API's order, then anything else
        return dict(sorted(data.items(), key=lambda kv: _position(order, kv[0])))

    def spec_data(self) -> dict[str, Any]:
        """What Save would store: the JSON tab's text while it is shown, else the form."""
        if self.tabs.currentIndex() == self.json_index:
            return parse_json_object(self.json_text.toPlainText())
        return self.form_data()

    def validated_spec(self) -> AutomationSpec | None:
        """The spec, or None after showing what is wrong (and where)."""
        try:
            return AutomationSpec.model_validate(self.spec_data())
        except FormError as exc:
            self.show_problems([(exc.field, exc.message)])
        except ValidationError as exc:
            self.show_problems(validation_lines(exc))
        return None

    def show_problems(self, problems: list[tuple[str, str]]) -> None:
        """List ``(field, message)`` pairs and show the first one's place in the form."""
        self.error.show_error("\n".join(f"{field}: {message}" for field, message in problems))
        if problems:
            self.reveal(problems[0][0])

    def reveal(self, field: str) -> None:
        """Switch to the tab (and item) that ``field`` (``steps[2].shell``) is about."""
        if self.tabs.currentIndex() == self.json_index:
            return  # the person is editing the JSON: the message names the field
        head, _, rest = field.partition("[")
        index = int(rest.split("]", 1)[0]) if rest[:1].isdigit() else 0
        if head == "triggers":
            self.tabs.setCurrentWidget(self.triggers)
            self.triggers.select(index)
        elif head == "steps":
            self.tabs.setCurrentWidget(self.steps)
            self.steps.select(index)
        else:
            self.tabs.setCurrentIndex(0)

    # -- JSON sync -------------------------------------------------------------------------

    def _tab_changed(self, index: int) -> None:
        previous, self._tab = self._tab, index
        if (previous == self.json_index) == (index == self.json_index):
            return  # from one form tab to another: nothing to carry over
        try:
            if previous == self.json_index:
                self.load(form_ready(parse_json_object(self.json_text.toPlainText())))
            else:
                self.json_text.setPlainText(json.dumps(self.form_data(), indent=2))
        except FormError as exc:
            self._stay(previous, [(exc.field, exc.message)])
            return
        except ValidationError as exc:
            self._stay(previous, validation_lines(exc))
            return
        self.error.hide()

    def _stay(self, index: int, problems: list[tuple[str, str]]) -> None:
        self.tabs.blockSignals(True)
        self.tabs.setCurrentIndex(index)
        self.tabs.blockSignals(False)
        self._tab = index
        self.show_problems(problems)

    # -- saving ------------------------------------------------------------------------------

    def _accept_if_valid(self) -> None:
        spec = self.validated_spec()
        if spec is None:
            return
        self.error.hide()
        self.save_button.setEnabled(False)
        self.save_requested.emit(spec)

    def saved(self) -> None:
        """The agent stored it."""
        self.accept()

    def save_failed(self, error: AtomError) -> None:
        """The agent refused it (a TriggerError names the field)."""
        self.save_button.setEnabled(True)
        field = getattr(error, "field", None)
        self.error.show_error(str(error))
        if isinstance(field, str):
            self.reveal(field)


def _position(order: list[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON tab's text as an object (FormError when it is not one)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = QCoreApplication.translate("AutomationEditor", "line %1, column %2: %3")
        raise FormError(
            "JSON",
            where.replace("%1", str(exc.lineno))
            .replace("%2", str(exc.colno))
            .replace("%3", exc.msg),
        ) from None
    if not isinstance(data, dict):
        raise FormError(
            "JSON",
            QCoreApplication.translate(
                "AutomationEditor", "the automation must be a JSON object ({ … })"
            ),
        )
    return data


def form_ready(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` checked and completed by the model, for the form to show.

    Only what a half-made automation lacks is let through: an empty name, no steps.
    """
    stand_in = dict(data)
    no_name = not str(data.get("name") or "").strip()
    no_steps = not data.get("steps")
    if no_name:
        stand_in["name"] = "-"
    if no_steps:
        stand_in["steps"] = [{"type": "notify", "title": "-"}]
    result = spec_json(AutomationSpec.model_validate(stand_in))
    if no_name:
        result["name"] = ""
    if no_steps:
        result["steps"] = []
    return result
