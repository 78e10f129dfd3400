"""One trigger in the automation editor: a schedule (with its next fire times) or a file trigger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from atom_desktop.automations.triggers import Schedule, TriggerError, build_trigger, next_fire_times
from atom_desktop.gui.error_label import ErrorLabel
from atom_desktop.gui.pages.approvals_panel import time_until
from atom_desktop.gui.pages.automation_fields import (
    FILE_EVENTS,
    PREVIEW_COUNT,
    PREVIEW_DELAY_MS,
    SCHEDULE_TYPES,
    TRIGGER_TYPES,
    UNITS,
    NumberBox,
    TimeZoneBox,
    buddy,
    choose,
    comma_list,
    date_time_edit,
    from_qt,
    lines,
    monospace,
    number,
    to_qt,
    validation_lines,
    wall_clock,
    words,
)
from atom_desktop.gui.run_labels import short_command
from atom_desktop.gui.translations import english_plural
from atom_desktop.platform.local_zone import local_zone_name

_SCHEDULE = TypeAdapter(Schedule)


class TriggerForm(QWidget):
    """One trigger: a schedule (with a preview of its next fire times) or a file watch."""

    changed = Signal()

    def __init__(self, data: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview_times: list[datetime] = []
        self.type = QComboBox()
        for kind, label in (
            ("cron", self.tr("Cron expression")),
            ("interval", self.tr("Every …")),
            ("date", self.tr("Once, at a date and time")),
            ("file", self.tr("When files change")),
        ):
            self.type.addItem(label, kind)
        self.type.setAccessibleName(self.tr("Trigger type"))

        self.expression = QLineEdit()
        self.expression.setPlaceholderText("*/15 9-17 * * 1-5")
        self.expression.setAccessibleName(self.tr("Cron expression"))
        monospace(self.expression)
        cron_help = QLabel(
            self.tr(
                "minute hour day month weekday (0 or 7 = Sunday); "
                "a sixth field in front counts seconds."
            )
        )
        cron_help.setWordWrap(True)

        self.every = NumberBox(0.01, 366 * 86400, name=self.tr("Interval"))
        self.unit = QComboBox()
        for unit, _ in UNITS:
            self.unit.addItem(words(unit))
        self.unit.setAccessibleName(self.tr("Interval unit"))
        self.has_start = QCheckBox(self.tr("Starting at"))
        self.start = date_time_edit(self.tr("Interval start"))
        every_row = QHBoxLayout()
        every_row.addWidget(self.every, 1)
        every_row.addWidget(self.unit)
        start_row = QHBoxLayout()
        start_row.addWidget(self.has_start)
        start_row.addWidget(self.start, 1)

        self.at = date_time_edit(self.tr("Date and time"))

        self.paths = QPlainTextEdit()
        self.paths.setPlaceholderText(
            self.tr("One folder or file per line, e.g. /home/me/Downloads")
        )
        self.paths.setAccessibleName(self.tr("Watched paths"))
        self.paths.setTabChangesFocus(True)
        self.paths.setMaximumHeight(90)
        self.browse = QPushButton(self.tr("Add folder…"))
        self.include = QLineEdit()
        self.include.setPlaceholderText(self.tr("all files; or e.g. *.pdf, reports/**/*.csv"))
        self.include.setAccessibleName(self.tr("Include globs"))
        self.exclude = QLineEdit()
        self.exclude.setPlaceholderText(self.tr("e.g. *.tmp, .git/**"))
        self.exclude.setAccessibleName(self.tr("Exclude globs"))
        self.events = {kind: QCheckBox(kind) for kind in FILE_EVENTS}
        self.recursive = QCheckBox(self.tr("Include sub-folders"))
        self.debounce = NumberBox(0, 3600, suffix=" s", name=self.tr("Debounce"))
        self.debounce.setSpecialValueText(self.tr("default"))
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
        self.preview.setAccessibleName(self.tr("Next fire times"))
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.error = ErrorLabel()

        # One form; each kind shows its own rows (the others are hidden, not just empty).
        self.form = QFormLayout()
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.addRow(self.tr("&Type:"), self.type)
        self._rows: dict[str, list[QWidget | QLayout]] = {kind: [] for kind in TRIGGER_TYPES}
        # (kinds, label, field, what the label's & key focuses when the field is a layout)
        rows: list[tuple[tuple[str, ...], str, QWidget | QLayout, QWidget | None]] = [
            (("cron",), self.tr("&Expression:"), self.expression, None),
            (("cron",), "", cron_help, None),
            (("interval",), self.tr("E&very:"), every_row, self.every),
            (("interval",), "", start_row, None),
            (("date",), self.tr("&At:"), self.at, None),
            (("file",), self.tr("&Paths:"), paths_row, self.paths),
            (("file",), self.tr("&Include:"), self.include, None),
            (("file",), self.tr("E&xclude:"), self.exclude, None),
            (("file",), self.tr("Events:"), events_row, None),
            (("file",), "", self.recursive, None),
            (("file",), self.tr("Gather changes &for:"), self.debounce, None),
            (SCHEDULE_TYPES, self.tr("Time &zone:"), self.zone, None),
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
            return (
                self.tr("cron %1 (%2)")
                .replace("%1", self.expression.text().strip() or "…")
                .replace("%2", self.zone.zone())
            )
        if kind == "interval":
            return (
                self.tr("every %1 %2")
                .replace("%1", self.every.text())
                .replace("%2", self.unit.currentText())
            )
        if kind == "date":
            return (
                self.tr("once at %1 (%2)")
                .replace("%1", self.at.text())
                .replace("%2", self.zone.zone())
            )
        paths = lines(self.paths.toPlainText())
        return self.tr("files: %1").replace(
            "%1", short_command(", ".join(paths), 40) if paths else "…"
        )

    # -- preview -------------------------------------------------------------------------

    def update_preview(self) -> None:
        """Show the next fire times, or why there are none."""
        self._preview_timer.stop()
        self.preview_times = []
        self.error.hide()
        if self.kind() == "file":
            self.preview.setText(
                self.tr("Runs when matching files change (no schedule to preview).")
            )
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
            self.preview.setText(
                self.tr("It will never fire: the time has passed or cannot occur.")
            )
            return
        zone = self.zone.zone()
        rows = []
        for moment in self.preview_times:
            local = moment.astimezone()
            text = f"{local:%a %Y-%m-%d %H:%M:%S}  ({time_until(moment, now)})"
            if moment.utcoffset() != local.utcoffset():
                text += f"  — {moment:%H:%M} {zone}"
            rows.append(text)
        heading = english_plural(
            self.tr("Next %n fire time(s), in your local time:", "", len(rows)), len(rows)
        )
        self.preview.setText(heading + "\n" + "\n".join(rows))

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
        folder = QFileDialog.getExistingDirectory(self, self.tr("Watch a folder"))
        if folder:
            current = self.paths.toPlainText().rstrip("\n")
            self.paths.setPlainText(f"{current}\n{folder}".strip("\n"))


# -- steps --------------------------------------------------------------------------------
