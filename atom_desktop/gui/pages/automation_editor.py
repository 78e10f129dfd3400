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
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import TypeAdapter, ValidationError
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer, QTimeZone, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.automations.model import AutomationSpec, spec_json
from atom_desktop.automations.triggers import Schedule, TriggerError, build_trigger, next_fire_times
from atom_desktop.core.errors import AtomError
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.approvals_panel import time_until
from atom_desktop.gui.run_labels import short_command

PREVIEW_COUNT = 5
PREVIEW_DELAY_MS = 150
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
FILE_EVENTS = ("created", "modified", "deleted", "moved")
UNITS = (("seconds", 1), ("minutes", 60), ("hours", 3600), ("days", 86400))
SCHEDULE_TYPES = ("cron", "interval", "date")
TRIGGER_TYPES = (*SCHEDULE_TYPES, "file")
STEP_TYPES = (
    ("shell", "Shell command"),
    ("http", "HTTP request"),
    ("notify", "Notification"),
    ("task", "Task"),
)
APPROVALS = (
    ("auto", "Run them"),
    ("ask", "Ask me first, in the approvals inbox"),
    ("deny", "Never run them"),
)
MISSED = (
    ("coalesce", "Run once for all of them"),
    ("all", "Run once for each"),
    ("skip", "Skip them"),
)
OVERLAPS = (
    ("skip", "Skip the new run"),
    ("queue", "Queue it until the previous one ends"),
    ("parallel", "Run both at once"),
)
QT_ISO = "yyyy-MM-dd'T'HH:mm:ss"
TAGS = frozenset({*TRIGGER_TYPES, *(kind for kind, _ in STEP_TYPES)})
_SCHEDULE = TypeAdapter(Schedule)


class FormError(Exception):
    """A field of the form that cannot become JSON as typed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- small pieces ----------------------------------------------------------------------


def local_zone_name() -> str:
    """The computer's IANA time zone (UTC when it cannot be told)."""
    try:
        import tzlocal  # noqa: PLC0415 - APScheduler's own dependency; rarely needed

        name = tzlocal.get_localzone_name()
        ZoneInfo(name)
    except Exception:  # any failure means "unknown": fall back to UTC
        return "UTC"
    return name


@functools.cache
def zone_names() -> list[str]:
    """Every IANA zone name this Python knows, sorted (for completion)."""
    return sorted(available_timezones())


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a person reads it: ``triggers[0].expression``."""
    text = ""
    after_index = True  # a union's tag may also come first (a schedule on its own)
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            after_index = True
            continue
        if after_index and part in TAGS:
            after_index = False
            continue  # the union's tag ("cron", "shell"): the item is already named
        text += f".{part}" if text else str(part)
        after_index = False
    return text or "spec"


def validation_lines(exc: ValidationError, limit: int = 5) -> list[tuple[str, str]]:
    """The first ``limit`` problems as (field, message)."""
    return [(field_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()[:limit]]


def lines(text: str) -> list[str]:
    """Non-empty, stripped lines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def comma_list(text: str) -> list[str]:
    """``a, b`` -> ``["a", "b"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def number(value: float) -> float | int:
    """Whole numbers as ints, so the JSON reads ``60`` rather than ``60.0``."""
    return int(value) if float(value).is_integer() else value


def monospace(edit: QPlainTextEdit | QLineEdit) -> None:
    """A fixed-width font for code and JSON."""
    edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))


def choice_box(choices: tuple[tuple[str, str], ...], name: str) -> QComboBox:
    """A combo box of (value, label) pairs."""
    box = QComboBox()
    for value, label in choices:
        box.addItem(label, value)
    box.setAccessibleName(name)
    return box


def choose(box: QComboBox, value: object) -> None:
    """Select the item whose data is ``value``."""
    box.setCurrentIndex(max(0, box.findData(value)))


class NumberBox(QDoubleSpinBox):
    """A number without trailing zeros (``90``, ``0.5``)."""

    def __init__(
        self, low: float, high: float, *, decimals: int = 2, suffix: str = "", name: str = ""
    ) -> None:
        super().__init__()
        self.setDecimals(decimals)
        self.setRange(low, high)
        self.setSuffix(suffix)
        self.setAccessibleName(name)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        """The number, trimmed."""
        text = f"{value:.{self.decimals()}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


class TimeZoneBox(QComboBox):
    """An editable list of common zones; any IANA name can be typed (with completion)."""

    def __init__(self) -> None:
        super().__init__()
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        local = local_zone_name()
        self.addItems([local, *(z for z in COMMON_ZONES if z != local)])
        completer = QCompleter(zone_names(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.setAccessibleName("Time zone")

    def zone(self) -> str:
        """The zone as typed."""
        return self.currentText().strip()

    def set_zone(self, name: str) -> None:
        """Show ``name`` (typed in if it is not in the list)."""
        self.setEditText(name)


def buddy(text: str, field: QWidget) -> QLabel:
    """A label whose ``&`` key focuses ``field`` (for rows whose field is a layout)."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


def form_widget() -> tuple[QWidget, QFormLayout]:
    """A widget holding a form layout without margins."""
    widget = QWidget()
    form = QFormLayout(widget)
    form.setContentsMargins(0, 0, 0, 0)
    return widget, form


def date_time_edit(name: str) -> QDateTimeEdit:
    """An editor of wall-clock times (in UTC inside, so no local DST gap moves them)."""
    edit = QDateTimeEdit()
    edit.setTimeZone(QTimeZone.utc())
    edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
    edit.setCalendarPopup(True)
    edit.setAccessibleName(name)
    return edit


def to_qt(moment: datetime) -> QDateTime:
    """A naive (wall-clock) time for a :func:`date_time_edit`."""
    return QDateTime(
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second),
        QTimeZone.utc(),
    )


def from_qt(edit: QDateTimeEdit) -> str:
    """The wall-clock time in an edit, as ISO text without an offset."""
    return edit.dateTime().toString(QT_ISO)


def wall_clock(text: str | None, zone: str) -> datetime | None:
    """ISO ``text`` as a wall-clock time in ``zone`` (an offset is converted away)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(ZoneInfo(zone))
        except (ValueError, KeyError):
            moment = moment.astimezone(UTC)
        moment = moment.replace(tzinfo=None)
    return moment


# -- triggers ----------------------------------------------------------------------------


class TriggerForm(QWidget):
    """One trigger: a schedule (with a preview of its next fire times) or a file watch."""

    changed = Signal()

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview_times: list[datetime] = []
        self.type = QComboBox()
        for kind, label in (
            ("cron", "Cron expression"),
            ("interval", "Every …"),
            ("date", "Once, at a date and time"),
            ("file", "When files change"),
        ):
            self.type.addItem(label, kind)
        self.type.setAccessibleName("Trigger type")

        self.expression = QLineEdit()
        self.expression.setPlaceholderText("*/15 9-17 * * 1-5")
        self.expression.setAccessibleName("Cron expression")
        monospace(self.expression)
        cron_help = QLabel(
            "minute hour day month weekday (0 or 7 = Sunday); "
            "a sixth field in front counts seconds."
        )
        cron_help.setWordWrap(True)

        self.every = NumberBox(0.01, 366 * 86400, name="Interval")
        self.unit = QComboBox()
        for label, _ in UNITS:
            self.unit.addItem(label)
        self.unit.setAccessibleName("Interval unit")
        self.has_start = QCheckBox("Starting at")
        self.start = date_time_edit("Interval start")
        every_row = QHBoxLayout()
        every_row.addWidget(self.every, 1)
        every_row.addWidget(self.unit)
        start_row = QHBoxLayout()
        start_row.addWidget(self.has_start)
        start_row.addWidget(self.start, 1)

        self.at = date_time_edit("Date and time")

        self.paths = QPlainTextEdit()
        self.paths.setPlaceholderText("One folder or file per line, e.g. /home/me/Downloads")
        self.paths.setAccessibleName("Watched paths")
        self.paths.setTabChangesFocus(True)
        self.paths.setMaximumHeight(90)
        self.browse = QPushButton("Add folder…")
        self.include = QLineEdit()
        self.include.setPlaceholderText("all files; or e.g. *.pdf, reports/**/*.csv")
        self.include.setAccessibleName("Include globs")
        self.exclude = QLineEdit()
        self.exclude.setPlaceholderText("e.g. *.tmp, .git/**")
        self.exclude.setAccessibleName("Exclude globs")
        self.events = {kind: QCheckBox(kind) for kind in FILE_EVENTS}
        self.recursive = QCheckBox("Include sub-folders")
        self.debounce = NumberBox(0, 3600, suffix=" s", name="Debounce")
        self.debounce.setSpecialValueText("default")
        self.debounce.setSingleStep(0.5)
        paths_row = QVBoxLayout()
        paths_row.addWidget(self.paths)
        paths_row.addWidget(self.browse, 0, Qt.AlignmentFlag.AlignLeft)
        events_row = QHBoxLayout()
        for box in self.events.values():
            events_row.addWidget(box)
        events_row.addStretch(1)

        self.zone = TimeZoneBox()
        self.preview = QLabel()
        self.preview.setAccessibleName("Next fire times")
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.error = ErrorLabel()

        # One form; each kind shows its own rows (the others are hidden, not just empty).
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow("&Type:", self.type)
        self._rows: dict[str, list[QWidget | QLayout]] = {kind: [] for kind in TRIGGER_TYPES}
        # (kinds, label, field, what the label's & key focuses when the field is a layout)
        rows: list[tuple[tuple[str, ...], str, QWidget | QLayout, QWidget | None]] = [
            (("cron",), "&Expression:", self.expression, None),
            (("cron",), "", cron_help, None),
            (("interval",), "E&very:", every_row, self.every),
            (("interval",), "", start_row, None),
            (("date",), "&At:", self.at, None),
            (("file",), "&Paths:", paths_row, self.paths),
            (("file",), "&Include:", self.include, None),
            (("file",), "E&xclude:", self.exclude, None),
            (("file",), "Events:", events_row, None),
            (("file",), "", self.recursive, None),
            (("file",), "Gather changes &for:", self.debounce, None),
            (SCHEDULE_TYPES, "Time &zone:", self.zone, None),
        ]
        for kinds, text, field, focus in rows:
            if isinstance(field, QWidget):
                self.form.addRow(text, field)
            else:
                self.form.addRow(buddy(text, focus) if focus else QLabel(text), field)
            for kind in kinds:
                self._rows[kind].append(field)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.preview)
        layout.addStretch(1)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        self.load(data)
        self.type.currentIndexChanged.connect(self._type_changed)
        for signal in (
            self.expression.textChanged,
            self.every.valueChanged,
            self.unit.currentIndexChanged,
            self.has_start.toggled,
            self.start.dateTimeChanged,
            self.at.dateTimeChanged,
            self.zone.editTextChanged,
            self.paths.textChanged,
            self.include.textChanged,
            self.exclude.textChanged,
            self.recursive.toggled,
            self.debounce.valueChanged,
            *(box.toggled for box in self.events.values()),
        ):
            signal.connect(self._edited)
        self.has_start.toggled.connect(self.start.setEnabled)
        self.browse.clicked.connect(self._browse)

    # -- data ----------------------------------------------------------------------------

    def kind(self) -> str:
        """cron, interval, date or file."""
        return str(self.type.currentData())

    def load(self, data: dict[str, Any]) -> None:
        """Show ``data`` (a trigger as JSON); missing fields get their defaults."""
        kind = data.get("type", "cron")
        choose(self.type, kind)
        zone = str(data.get("timezone") or local_zone_name())
        self.zone.set_zone(zone)
        self.expression.setText(str(data.get("expression", "")))
        seconds = float(data.get("seconds") or 3600)
        unit = max((i for i, (_, size) in enumerate(UNITS) if seconds % size == 0), default=0)
        self.unit.setCurrentIndex(unit)
        self.every.setValue(seconds / UNITS[unit][1])
        start = wall_clock(data.get("start"), zone)
        self.has_start.setChecked(start is not None)
        self.start.setEnabled(start is not None)
        self.start.setDateTime(to_qt(start or datetime.now().replace(second=0)))
        at = wall_clock(data.get("at"), zone)
        tomorrow = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0)
        self.at.setDateTime(to_qt(at or tomorrow))
        self.paths.setPlainText("\n".join(data.get("paths") or []))
        self.include.setText(", ".join(data.get("include") or []))
        self.exclude.setText(", ".join(data.get("exclude") or []))
        chosen = data.get("events") or FILE_EVENTS
        for event_kind, box in self.events.items():
            box.setChecked(event_kind in chosen)
        self.recursive.setChecked(bool(data.get("recursive", True)))
        self.debounce.setValue(float(data.get("debounce_s") or 0))
        self._show_kind()
        self.update_preview()

    def to_dict(self) -> dict[str, Any]:
        """The trigger as JSON (in the model's field order)."""
        kind = self.kind()
        if kind == "file":
            return {
                "type": "file",
                "paths": lines(self.paths.toPlainText()),
                "events": [k for k, box in self.events.items() if box.isChecked()],
                "include": comma_list(self.include.text()),
                "exclude": comma_list(self.exclude.text()),
                "recursive": self.recursive.isChecked(),
                "debounce_s": number(self.debounce.value()) if self.debounce.value() else None,
            }
        data: dict[str, Any] = {"type": kind}
        if kind == "cron":
            data["expression"] = self.expression.text().strip()
        elif kind == "interval":
            data["seconds"] = number(self.every.value() * UNITS[self.unit.currentIndex()][1])
            data["start"] = from_qt(self.start) if self.has_start.isChecked() else None
        else:
            data["at"] = from_qt(self.at)
        data["timezone"] = self.zone.zone()
        return data

    def summary(self) -> str:
        """One line for the list of triggers."""
        kind = self.kind()
        if kind == "cron":
            return f"cron {self.expression.text().strip() or '…'} ({self.zone.zone()})"
        if kind == "interval":
            return f"every {self.every.text()} {self.unit.currentText()}"
        if kind == "date":
            return f"once at {self.at.text()} ({self.zone.zone()})"
        paths = lines(self.paths.toPlainText())
        return "files: " + (short_command(", ".join(paths), 40) if paths else "…")

    # -- preview -------------------------------------------------------------------------

    def update_preview(self) -> None:
        """Show the next fire times, or why there are none."""
        self._preview_timer.stop()
        self.preview_times = []
        self.error.hide()
        if self.kind() == "file":
            self.preview.setText("Runs when matching files change (no schedule to preview).")
            return
        try:
            schedule = _SCHEDULE.validate_python(self.to_dict())
            trigger = build_trigger(schedule)
        except TriggerError as exc:
            self._preview_failed(str(exc))
            return
        except ValidationError as exc:
            field, message = validation_lines(exc, 1)[0]
            self._preview_failed(f"{field}: {message}")
            return
        now = datetime.now(UTC)
        self.preview_times = next_fire_times(trigger, now, PREVIEW_COUNT)
        if not self.preview_times:
            self.preview.setText("It will never fire: the time has passed or cannot occur.")
            return
        zone = self.zone.zone()
        rows = []
        for moment in self.preview_times:
            local = moment.astimezone()
            text = f"{local:%a %Y-%m-%d %H:%M:%S}  ({time_until(moment, now)})"
            if moment.utcoffset() != local.utcoffset():
                text += f"  — {moment:%H:%M} {zone}"
            rows.append(text)
        self.preview.setText(
            f"Next {len(rows)} fire time(s), in your local time:\n" + "\n".join(rows)
        )

    def _preview_failed(self, message: str) -> None:
        self.preview.setText("")
        self.error.show_error(message)

    def _type_changed(self) -> None:
        self._show_kind()
        self._edited()

    def _show_kind(self) -> None:
        kind = self.kind()
        for other, fields in self._rows.items():
            if other != kind:
                for field in fields:
                    self.form.setRowVisible(field, False)
        for field in self._rows[kind]:
            self.form.setRowVisible(field, True)

    def _edited(self) -> None:
        self._preview_timer.start()
        self.changed.emit()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Watch a folder")
        if folder:
            current = self.paths.toPlainText().rstrip("\n")
            self.paths.setPlainText(f"{current}\n{folder}".strip("\n"))


# -- steps --------------------------------------------------------------------------------


class StepForm(QWidget):
    """The fields every step has; subclasses add their own."""

    changed = Signal()
    kind = ""

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(str(data.get("name") or ""))
        self.name.setPlaceholderText("optional; later steps can use ${steps.NAME.…}")
        self.name.setAccessibleName("Step name")
        self.continue_on_failure = QCheckBox("Go on with the next step if this one fails")
        self.continue_on_failure.setChecked(bool(data.get("continue_on_failure")))
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow("&Name:", self.name)
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

    def to_dict(self, where: str) -> dict[str, Any]:
        """The step as JSON; FormError (naming ``where``) when a field cannot be read."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line for the list of steps."""
        raise NotImplementedError

    def focus(self) -> None:
        """Put the cursor in the main field."""
        self.name.setFocus()


def text_edit(text: str, name: str, placeholder: str = "", *, code: bool = False) -> QPlainTextEdit:
    """A multi-line field."""
    edit = QPlainTextEdit(text)
    edit.setAccessibleName(name)
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)
    if code:
        monospace(edit)
    return edit


def pairs(text: str, separator: str, where: str, example: str) -> dict[str, str]:
    """``NAME<sep>value`` lines as a dict."""
    result: dict[str, str] = {}
    for number_, line in enumerate(lines(text), 1):
        name, found, value = line.partition(separator)
        if not found or not name.strip():
            raise FormError(where, f"line {number_} should look like {example}")
        result[name.strip()] = value.strip()
    return result


class ShellStepForm(StepForm):
    """A shell line run through the runner."""

    kind = "shell"

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(data, parent)
        self.command = text_edit(
            str(data.get("shell") or ""),
            "Shell command",
            "e.g. rsync -a ~/notes /backup",
            code=True,
        )
        self.cwd = QLineEdit(str(data.get("cwd") or ""))
        self.cwd.setPlaceholderText("your home folder")
        self.cwd.setAccessibleName("Working directory")
        env = data.get("env") or {}
        self.env = text_edit(
            "\n".join(f"{k}={v}" for k, v in env.items()), "Environment", "NAME=value per line"
        )
        self.env.setMaximumHeight(70)
        self.timeout = NumberBox(0, 7 * 86400, decimals=0, suffix=" s", name="Command timeout")
        self.timeout.setSpecialValueText("no limit of its own")
        self.timeout.setValue(float(data.get("timeout_s") or 0))
        hint = QLabel(
            'Changed files arrive as "$@"; TRIGGER_KIND, TRIGGER_PAYLOAD and '
            "PREVIOUS_STDOUT are in the environment."
        )
        hint.setWordWrap(True)
        self.form.addRow("&Command:", self.command)
        self.form.addRow("", hint)
        self.form.addRow("&Directory:", self.cwd)
        self.form.addRow("&Environment:", self.env)
        self.form.addRow("&Timeout:", self.timeout)
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
        self.method.addItems(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
        self.method.setCurrentText(str(data.get("method") or "GET"))
        self.method.setAccessibleName("Method")
        self.url = QLineEdit(str(data.get("url") or ""))
        self.url.setPlaceholderText("https://example.com/hook?run=${run.id}")
        self.url.setAccessibleName("Address")
        headers = data.get("headers") or {}
        self.headers = text_edit(
            "\n".join(f"{k}: {v}" for k, v in headers.items()), "Headers", "Name: value per line"
        )
        self.headers.setMaximumHeight(70)
        self.body_kind = QComboBox()
        self.body_kind.addItems(["No body", "Text", "JSON"])
        self.body_kind.setAccessibleName("Body kind")
        body = ""
        if data.get("json") is not None:
            self.body_kind.setCurrentIndex(2)
            body = json.dumps(data["json"], indent=2)
        elif data.get("body") is not None:
            self.body_kind.setCurrentIndex(1)
            body = str(data["body"])
        self.body = text_edit(body, "Body", code=True)
        self.timeout = NumberBox(0.1, 600, suffix=" s", name="Request timeout")
        self.timeout.setValue(float(data.get("timeout_s") or 30))
        self.expect = QLineEdit(", ".join(str(s) for s in data.get("expect_status") or []))
        self.expect.setPlaceholderText("any 2xx; or e.g. 200, 204")
        self.expect.setAccessibleName("Expected statuses")
        request = QHBoxLayout()
        request.addWidget(self.method)
        request.addWidget(self.url, 1)
        self.form.addRow(buddy("Re&quest:", self.url), request)
        self.form.addRow("&Headers:", self.headers)
        self.form.addRow("&Body:", self.body_kind)
        self.form.addRow("", self.body)
        self.form.addRow("&Timeout:", self.timeout)
        self.form.addRow("S&uccess if:", self.expect)
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
                raise FormError(f"{where}.json", f"not valid JSON ({exc})") from None
        try:
            expect = [int(part) for part in comma_list(self.expect.text())]
        except ValueError:
            raise FormError(f"{where}.expect_status", "use numbers such as 200, 204") from None
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
        self.title.setPlaceholderText("e.g. Backup of ${automation.name} done")
        self.title.setAccessibleName("Notification title")
        self.message = text_edit(str(data.get("message") or ""), "Notification message")
        self.form.addRow("&Title:", self.title)
        self.form.addRow("&Message:", self.message)
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
        self.action.addItem("Create a task", "create")
        self.action.addItem("Update a task", "update")
        choose(self.action, data.get("action") or "create")
        self.action.setAccessibleName("Task action")
        self.task_id = QLineEdit(str(data.get("task_id") or ""))
        self.task_id.setPlaceholderText("for updates: a task id or ${steps.NAME.task_id}")
        self.task_id.setAccessibleName("Task id")
        fields = data.get("fields") or {"title": "Follow up on ${automation.name}"}
        self.fields = text_edit(json.dumps(fields, indent=2), "Task fields", code=True)
        self.form.addRow("&Action:", self.action)
        self.form.addRow("Task &id:", self.task_id)
        self.form.addRow("&Fields (JSON):", self.fields)
        self.finish()
        self._watch(
            self.action.currentIndexChanged, self.task_id.textChanged, self.fields.textChanged
        )

    def to_dict(self, where: str) -> dict[str, Any]:
        """The task step as JSON."""
        try:
            fields = json.loads(self.fields.toPlainText() or "{}")
        except json.JSONDecodeError as exc:
            raise FormError(f"{where}.fields", f"not valid JSON ({exc})") from None
        return {
            **self.common(),
            "action": self.action.currentData(),
            "task_id": self.task_id.text().strip() or None,
            "fields": fields,
        }

    def summary(self) -> str:
        """``task: create``."""
        return f"task: {self.action.currentData()}"


STEP_FORMS: dict[str, type[StepForm]] = {
    "shell": ShellStepForm,
    "http": HttpStepForm,
    "notify": NotifyStepForm,
    "task": TaskStepForm,
}


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
        self.up = QPushButton("Up")
        self.down = QPushButton("Down")
        self.remove = QPushButton("Remove")
        for button, label in ((self.up, "up"), (self.down, "down")):
            button.setAccessibleName(f"Move the selected {name.lower().rstrip('s')} {label}")
        self.remove.setAccessibleName(f"Remove the selected {name.lower().rstrip('s')}")
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
        self.setWindowTitle(f"Edit “{spec.name}”" if spec else "New automation")
        self.resize(860, 620)
        self._base: dict[str, Any] = {}
        self.tabs = QTabWidget()

        # General
        self.name = QLineEdit()
        self.name.setAccessibleName("Name")
        self.description = QLineEdit()
        self.description.setAccessibleName("Description")
        self.enabled = QCheckBox("Enabled (its triggers fire)")
        self.approval = choice_box(APPROVALS, "Shell steps")
        self.approval_timeout = NumberBox(1, 7 * 86400, decimals=0, suffix=" s", name="Wait")
        self.missed = choice_box(MISSED, "Missed times")
        self.grace = NumberBox(0, 86400, decimals=0, suffix=" s", name="Grace")
        self.overlap = choice_box(OVERLAPS, "Overlapping runs")
        self.timeout = NumberBox(0, 7 * 86400, decimals=0, suffix=" s", name="Run timeout")
        self.timeout.setSpecialValueText("no limit")
        self.notify_success = QCheckBox("when a run succeeds")
        self.notify_failure = QCheckBox("when a run fails")
        general, form = form_widget()
        form.setContentsMargins(12, 12, 12, 12)
        form.addRow("&Name:", self.name)
        form.addRow("&Description:", self.description)
        form.addRow("", self.enabled)
        form.addRow("S&hell steps:", self.approval)
        form.addRow("Wait for a decision:", self.approval_timeout)
        form.addRow("&Missed times:", self.missed)
        form.addRow("Late but on time within:", self.grace)
        form.addRow("&Overlapping runs:", self.overlap)
        form.addRow("&Timeout of a run:", self.timeout)
        notify_row = QHBoxLayout()
        notify_row.addWidget(self.notify_success)
        notify_row.addWidget(self.notify_failure)
        notify_row.addStretch(1)
        form.addRow("Notify me:", notify_row)
        self.tabs.addTab(general, "&General")

        # Triggers
        self.triggers = ItemList(
            "Triggers", "No triggers: it runs only by hand (Run now), from the tray or the API."
        )
        add_schedule = QPushButton("Add schedule")
        add_schedule.setAccessibleName("Add a schedule trigger")
        add_files = QPushButton("Add file trigger")
        add_files.setAccessibleName("Add a file trigger")
        self.triggers.buttons.addWidget(add_schedule)
        self.triggers.buttons.addWidget(add_files)
        add_schedule.clicked.connect(lambda: self.add_trigger({"type": "cron"}))
        add_files.clicked.connect(
            lambda: self.add_trigger({"type": "file", "paths": [], "recursive": True})
        )
        self.tabs.addTab(self.triggers, "T&riggers")

        # Steps
        self.steps = ItemList("Steps", "No steps yet: add at least one.")
        add_step = QPushButton("Add step")
        add_step.setAccessibleName("Add a step")
        menu = QMenu(add_step)
        for kind, label in STEP_TYPES:
            menu.addAction(label, functools.partial(self.add_step, {"type": kind}))
        add_step.setMenu(menu)
        self.steps.buttons.addWidget(add_step)
        self.tabs.addTab(self.steps, "&Steps")

        # JSON
        self.json_text = text_edit("", "Automation as JSON", code=True)
        json_page = QWidget()
        json_layout = QVBoxLayout(json_page)
        note = QLabel(
            "The whole automation as JSON, as the API takes it. Changes here reach the "
            "other tabs when you leave this one."
        )
        note.setWordWrap(True)
        json_layout.addWidget(note)
        json_layout.addWidget(self.json_text, 1)
        self.json_index = self.tabs.addTab(json_page, "&JSON")

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

    def add_step(self, data: dict[str, Any], *, focus: bool = True) -> StepForm:
        """Add a step to the list and show it."""
        form = STEP_FORMS[data["type"]](data)
        self.steps.add(form, form.summary, form.changed)
        if focus:
            form.focus()
        return form

    def trigger_forms(self) -> list[TriggerForm]:
        """The trigger forms, in order."""
        return [f for f in self.triggers.forms if isinstance(f, TriggerForm)]

    def step_forms(self) -> list[StepForm]:
        """The step forms, in order."""
        return [f for f in self.steps.forms if isinstance(f, StepForm)]

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
        raise FormError("JSON", f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise FormError("JSON", "the automation must be a JSON object ({ … })")
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
