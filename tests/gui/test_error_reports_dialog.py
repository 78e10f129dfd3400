"""A failure in a Qt slot: one redacted report, and "something went wrong" shown once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from atom_desktop.config.paths import AppPaths
from atom_desktop.config.profile import Profile
from atom_desktop.config.settings import Settings
from atom_desktop.core.redaction import Redactor
from atom_desktop.diagnostics.reports import REPORTS_DIR_NAME
from atom_desktop.gui.error_reports_dialog import WindowErrors

SECRET = "window-secret-value-5678"


class Clicker(QObject):
    """Something in the window whose signal runs a slot."""

    clicked = Signal()


def _message_boxes() -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]


@pytest.fixture
def window_errors(qtbot: QtBot, settings: Settings, paths: AppPaths) -> Iterator[WindowErrors]:
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    redactor = Redactor()
    redactor.add(SECRET)
    errors = WindowErrors(window)
    errors.install()
    errors.use_profile(Profile(settings, paths, redactor))
    try:
        yield errors
    finally:
        errors.uninstall()
        if errors.dialog is not None:
            errors.dialog.close()


def _reports(paths: AppPaths) -> list[Path]:
    return sorted((paths.data_dir / REPORTS_DIR_NAME).glob("*.json"))


# pytest-qt would fail the test for the exception the slot raises on purpose;
# here the window's own hook is what is tested.
@pytest.mark.qt_no_exception_capture
def test_a_failing_slot_makes_one_report_and_one_dialog(
    qtbot: QtBot, window_errors: WindowErrors, paths: AppPaths
) -> None:
    clicker = Clicker()

    def broken_slot() -> None:
        raise RuntimeError(f"the slot failed with {SECRET}")

    clicker.clicked.connect(broken_slot)
    with qtbot.waitSignal(window_errors.reported, timeout=10_000):
        clicker.clicked.emit()
    qtbot.waitUntil(lambda: len(_message_boxes()) == 1, timeout=10_000)
    # The same failure again: no second report, no second dialog.
    clicker.clicked.emit()
    (report_file,) = _reports(paths)
    text = report_file.read_text()
    assert SECRET not in text
    report = json.loads(text)
    assert report["what"] == "RuntimeError: the slot failed with ***"
    assert report["where"].startswith(
        "window: test_a_failing_slot_makes_one_report_and_one_dialog.<locals>.broken_slot"
    )
    assert "broken_slot" in report["stack"]

    box = _message_boxes()[0]
    assert box.windowTitle() == "Something went wrong"
    assert str(report_file) in box.text()
    (copy,) = [b for b in box.findChildren(QPushButton) if b.text() == "Copy"]
    assert [b.text() for b in box.findChildren(QPushButton) if b.text() == "Open report"]
    copy.click()
    assert QGuiApplication.clipboard().text() == text


@pytest.mark.qt_no_exception_capture
def test_a_second_failure_is_reported_without_a_second_dialog(
    qtbot: QtBot, window_errors: WindowErrors, paths: AppPaths
) -> None:
    clicker = Clicker()

    def first() -> None:
        raise ValueError("first")

    def second() -> None:
        raise KeyError("second")

    clicker.clicked.connect(first)
    with qtbot.waitSignal(window_errors.reported, timeout=10_000):
        clicker.clicked.emit()
    qtbot.waitUntil(lambda: window_errors.dialog is not None, timeout=10_000)
    clicker.clicked.disconnect(first)
    clicker.clicked.connect(second)
    with qtbot.waitSignal(window_errors.reported, timeout=10_000):
        clicker.clicked.emit()
    QApplication.processEvents()  # the queued _show runs, and does nothing
    assert len(_reports(paths)) == 2
    assert len(_message_boxes()) == 1
