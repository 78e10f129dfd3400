"""Fields and helpers shared by the automation editor's forms (Qt widgets, parsing)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

from pydantic import ValidationError
from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QDate,
    QDateTime,
    Qt,
    QTime,
    QTimeZone,
)
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from atom_desktop.platform.local_zone import local_zone_name

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
# The labels below are marked for translation; :func:`words` shows them.
UNITS = (
    (QT_TRANSLATE_NOOP("AutomationEditor", "seconds"), 1),
    (QT_TRANSLATE_NOOP("AutomationEditor", "minutes"), 60),
    (QT_TRANSLATE_NOOP("AutomationEditor", "hours"), 3600),
    (QT_TRANSLATE_NOOP("AutomationEditor", "days"), 86400),
)
SCHEDULE_TYPES = ("cron", "interval", "date")
TRIGGER_TYPES = (*SCHEDULE_TYPES, "file")
STEP_TYPES = (
    ("shell", QT_TRANSLATE_NOOP("AutomationEditor", "Shell command")),
    ("http", QT_TRANSLATE_NOOP("AutomationEditor", "HTTP request")),
    ("notify", QT_TRANSLATE_NOOP("AutomationEditor", "Notification")),
    ("task", QT_TRANSLATE_NOOP("AutomationEditor", "Task")),
)
APPROVALS = (
    ("auto", QT_TRANSLATE_NOOP("AutomationEditor", "Run them")),
    ("ask", QT_TRANSLATE_NOOP("AutomationEditor", "Ask me first, in the approvals inbox")),
    ("deny", QT_TRANSLATE_NOOP("AutomationEditor", "Never run them")),
)
MISSED = (
    ("coalesce", QT_TRANSLATE_NOOP("AutomationEditor", "Run once for all of them")),
    ("all", QT_TRANSLATE_NOOP("AutomationEditor", "Run once for each")),
    ("skip", QT_TRANSLATE_NOOP("AutomationEditor", "Skip them")),
)
OVERLAPS = (
    ("skip", QT_TRANSLATE_NOOP("AutomationEditor", "Skip the new run")),
    ("queue", QT_TRANSLATE_NOOP("AutomationEditor", "Queue it until the previous one ends")),
    ("parallel", QT_TRANSLATE_NOOP("AutomationEditor", "Run both at once")),
)
QT_ISO = "yyyy-MM-dd'T'HH:mm:ss"
TAGS = frozenset({*TRIGGER_TYPES, *(kind for kind, _ in STEP_TYPES)})


class FormError(Exception):
    """A field of the form that cannot become JSON as typed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- small pieces ----------------------------------------------------------------------


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


def words(marked: object) -> str:
    """A label of this module's tables (marked for translation), translated."""
    return QCoreApplication.translate("AutomationEditor", str(marked))


def choice_box(choices: tuple[tuple[str, object], ...], name: str) -> QComboBox:
    """A combo box of (value, label) pairs; the labels are translated."""
    box = QComboBox()
    for value, label in choices:
        box.addItem(words(label), value)
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
        self.setAccessibleName(self.tr("Time zone"))

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
