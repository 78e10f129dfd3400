"""One step in the automation editor: a form per kind of step (shell, http, notify, task)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QCoreApplication, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from atom_desktop.gui.pages.automation_fields import (
    FormError,
    NumberBox,
    buddy,
    choose,
    comma_list,
    number,
    pairs,
    text_edit,
)
from atom_desktop.gui.run_labels import short_command


class StepForm(QWidget):
    """The fields every step has; subclasses add their own.

    What differs per kind - ``to_dict(where)`` (the step as JSON, or a
    FormError naming ``where``) and ``summary()`` (its line in the list) - is
    defined by each subclass; code that needs them takes an ``AnyStepForm``.
    """

    changed = Signal()
    kind = ""

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(str(data.get("name") or ""))
        self.name.setPlaceholderText(self.tr("optional; later steps can use ${steps.NAME.…}"))
        self.name.setAccessibleName(self.tr("Step name"))
        self.continue_on_failure = QCheckBox(self.tr("Go on with the next step if this one fails"))
        self.continue_on_failure.setChecked(bool(data.get("continue_on_failure")))
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow(self.tr("&Name:"), self.name)
        self._watch(self.name.textChanged, self.continue_on_failure.toggled)

    def finish(self) -> None:
        """Add the common last row (subclasses call this after their fields)."""
        self.form.addRow("", self.continue_on_failure)

    def _watch(self, *signals: Any) -> None:
        for signal in signals:
            signal.connect(self.changed)

    def common(self) -> dict[str, Any]:
        """The fields every step has."""
        return {
            "type": self.kind,
            "name": self.name.text().strip() or None,
            "continue_on_failure": self.continue_on_failure.isChecked(),
        }

    def focus(self) -> None:
        """Put the cursor in the main field."""
        self.name.setFocus()


class ShellStepForm(StepForm):
    """A shell line run through the runner."""

    kind = "shell"

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(data, parent)
        self.command = text_edit(
            str(data.get("shell") or ""),
            self.tr("Shell command"),
            self.tr("e.g. rsync -a ~/notes /backup"),
            code=True,
        )
        self.cwd = QLineEdit(str(data.get("cwd") or ""))
        self.cwd.setPlaceholderText(self.tr("your home folder"))
        self.cwd.setAccessibleName(self.tr("Working directory"))
        env = data.get("env") or {}
        self.env = text_edit(
            "\n".join(f"{k}={v}" for k, v in env.items()),
            self.tr("Environment"),
            self.tr("NAME=value per line"),
        )
        self.env.setMaximumHeight(70)
        self.timeout = NumberBox(
            0, 7 * 86400, decimals=0, suffix=" s", name=self.tr("Command timeout")
        )
        self.timeout.setSpecialValueText(self.tr("no limit of its own"))
        self.timeout.setValue(float(data.get("timeout_s") or 0))
        hint = QLabel(
            self.tr(
                'Changed files arrive as "$@"; TRIGGER_KIND, TRIGGER_PAYLOAD and '
                "PREVIOUS_STDOUT are in the environment."
            )
        )
        hint.setWordWrap(True)
        self.form.addRow(self.tr("&Command:"), self.command)
        self.form.addRow("", hint)
        self.form.addRow(self.tr("&Directory:"), self.cwd)
        self.form.addRow(self.tr("&Environment:"), self.env)
        self.form.addRow(self.tr("&Timeout:"), self.timeout)
        self.finish()
        self._watch(
            self.command.textChanged,
            self.cwd.textChanged,
            self.env.textChanged,
            self.timeout.valueChanged,
        )

    def to_dict(self, where: str) -> dict[str, Any]:
        """The shell step as JSON."""
        return {
            **self.common(),
            "shell": self.command.toPlainText().strip(),
            "cwd": self.cwd.text().strip() or None,
            "env": pairs(self.env.toPlainText(), "=", f"{where}.env", "NAME=value"),
            "timeout_s": number(self.timeout.value()) if self.timeout.value() else None,
        }

    def summary(self) -> str:
        """``shell: command``."""
        return f"shell: {short_command(self.command.toPlainText(), 50) or '…'}"

    def focus(self) -> None:
        """The command first."""
        self.command.setFocus()


class HttpStepForm(StepForm):
    """An HTTP request."""

    kind = "http"

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(data, parent)
        self.method = QComboBox()
        self.method.addItems(
            [
                self.tr("GET"),
                self.tr("POST"),
                self.tr("PUT"),
                self.tr("PATCH"),
                self.tr("DELETE"),
                self.tr("HEAD"),
            ]
        )
        self.method.setCurrentText(str(data.get("method") or "GET"))
        self.method.setAccessibleName(self.tr("Method"))
        self.url = QLineEdit(str(data.get("url") or ""))
        self.url.setPlaceholderText(self.tr("https://example.com/hook?run=${run.id}"))
        self.url.setAccessibleName(self.tr("Address"))
        headers = data.get("headers") or {}
        self.headers = text_edit(
            "\n".join(f"{k}: {v}" for k, v in headers.items()),
            self.tr("Headers"),
            self.tr("Name: value per line"),
        )
        self.headers.setMaximumHeight(70)
        self.body_kind = QComboBox()
        self.body_kind.addItems([self.tr("No body"), self.tr("Text"), self.tr("JSON")])
        self.body_kind.setAccessibleName(self.tr("Body kind"))
        body = ""
        if data.get("json") is not None:
            self.body_kind.setCurrentIndex(2)
            body = json.dumps(data["json"], indent=2)
        elif data.get("body") is not None:
            self.body_kind.setCurrentIndex(1)
            body = str(data["body"])
        self.body = text_edit(body, self.tr("Body"), code=True)
        self.timeout = NumberBox(0.1, 600, suffix=" s", name=self.tr("Request timeout"))
        self.timeout.setValue(float(data.get("timeout_s") or 30))
        self.expect = QLineEdit(", ".join(str(s) for s in data.get("expect_status") or []))
        self.expect.setPlaceholderText(self.tr("any 2xx; or e.g. 200, 204"))
        self.expect.setAccessibleName(self.tr("Expected statuses"))
        request = QHBoxLayout()
        request.addWidget(self.method)
        request.addWidget(self.url, 1)
        self.form.addRow(buddy(self.tr("Re&quest:"), self.url), request)
        self.form.addRow(self.tr("&Headers:"), self.headers)
        self.form.addRow(self.tr("&Body:"), self.body_kind)
        self.form.addRow("", self.body)
        self.form.addRow(self.tr("&Timeout:"), self.timeout)
        self.form.addRow(self.tr("S&uccess if:"), self.expect)
        self.finish()
        self.body.setEnabled(self.body_kind.currentIndex() > 0)
        self.body_kind.currentIndexChanged.connect(lambda i: self.body.setEnabled(i > 0))
        self._watch(
            self.method.currentIndexChanged,
            self.url.textChanged,
            self.headers.textChanged,
            self.body_kind.currentIndexChanged,
            self.body.textChanged,
            self.timeout.valueChanged,
            self.expect.textChanged,
        )

    def to_dict(self, where: str) -> dict[str, Any]:
        """The request as JSON."""
        kind, text = self.body_kind.currentIndex(), self.body.toPlainText()
        json_body: Any = None
        if kind == 2:
            try:
                json_body = json.loads(text)
            except json.JSONDecodeError as exc:
                raise FormError(f"{where}.json", _not_json(exc)) from None
        try:
            expect = [int(part) for part in comma_list(self.expect.text())]
        except ValueError:
            raise FormError(
                f"{where}.expect_status", self.tr("use numbers such as 200, 204")
            ) from None
        return {
            **self.common(),
            "method": self.method.currentText(),
            "url": self.url.text().strip(),
            "headers": pairs(self.headers.toPlainText(), ":", f"{where}.headers", "Name: value"),
            "json": json_body,
            "body": text if kind == 1 else None,
            "timeout_s": number(self.timeout.value()),
            "expect_status": expect,
        }

    def summary(self) -> str:
        """``http: GET url``."""
        return f"http: {self.method.currentText()} {short_command(self.url.text(), 40) or '…'}"

    def focus(self) -> None:
        """The address first."""
        self.url.setFocus()


class NotifyStepForm(StepForm):
    """A desktop notification."""

    kind = "notify"

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(data, parent)
        self.title = QLineEdit(str(data.get("title") or ""))
        self.title.setPlaceholderText(self.tr("e.g. Backup of ${automation.name} done"))
        self.title.setAccessibleName(self.tr("Notification title"))
        self.message = text_edit(str(data.get("message") or ""), self.tr("Notification message"))
        self.form.addRow(self.tr("&Title:"), self.title)
        self.form.addRow(self.tr("&Message:"), self.message)
        self.finish()
        self._watch(self.title.textChanged, self.message.textChanged)

    def to_dict(self, where: str) -> dict[str, Any]:
        """The notification as JSON."""
        del where
        return {
            **self.common(),
            "title": self.title.text().strip(),
            "message": self.message.toPlainText(),
        }

    def summary(self) -> str:
        """``notify: title``."""
        return f"notify: {short_command(self.title.text(), 50) or '…'}"

    def focus(self) -> None:
        """The title first."""
        self.title.setFocus()


class TaskStepForm(StepForm):
    """Create or update a task."""

    kind = "task"

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(data, parent)
        self.action = QComboBox()
        self.action.addItem(self.tr("Create a task"), "create")
        self.action.addItem(self.tr("Update a task"), "update")
        choose(self.action, data.get("action") or "create")
        self.action.setAccessibleName(self.tr("Task action"))
        self.task_id = QLineEdit(str(data.get("task_id") or ""))
        self.task_id.setPlaceholderText(self.tr("for updates: a task id or ${steps.NAME.task_id}"))
        self.task_id.setAccessibleName(self.tr("Task id"))
        fields = data.get("fields") or {"title": "Follow up on ${automation.name}"}
        self.fields = text_edit(json.dumps(fields, indent=2), self.tr("Task fields"), code=True)
        self.form.addRow(self.tr("&Action:"), self.action)
        self.form.addRow(self.tr("Task &id:"), self.task_id)
        self.form.addRow(self.tr("&Fields (JSON):"), self.fields)
        self.finish()
        self._watch(
            self.action.currentIndexChanged, self.task_id.textChanged, self.fields.textChanged
        )

    def to_dict(self, where: str) -> dict[str, Any]:
        """The task step as JSON."""
        try:
            fields = json.loads(self.fields.toPlainText() or "{}")
        except json.JSONDecodeError as exc:
            raise FormError(f"{where}.fields", _not_json(exc)) from None
        return {
            **self.common(),
            "action": self.action.currentData(),
            "task_id": self.task_id.text().strip() or None,
            "fields": fields,
        }

    def summary(self) -> str:
        """``task: create``."""
        return f"task: {self.action.currentData()}"


AnyStepForm = ShellStepForm | HttpStepForm | NotifyStepForm | TaskStepForm
STEP_FORMS: dict[str, type[AnyStepForm]] = {
    "shell": ShellStepForm,
    "http": HttpStepForm,
    "notify": NotifyStepForm,
    "task": TaskStepForm,
}


def _not_json(error: json.JSONDecodeError) -> str:
    """What is wrong with a JSON field's text, in the person's language (json's own detail)."""
    return QCoreApplication.translate("StepForms", "not valid JSON (%1)").replace("%1", str(error))
