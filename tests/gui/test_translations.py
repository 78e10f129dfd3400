"""A translation added as a file changes the window's strings, with no code change.

The whole path is the real one: ``pyside6-lupdate`` extracts the strings from
the package's source, a translator fills one in, ``pyside6-lrelease``
compiles it, and :func:`install_translations` (what the app calls at start)
loads it for the locale.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from atom_desktop.gui.pages.token_dialogs import NewTokenDialog
from atom_desktop.gui.translations import CATALOGUE, install_translations

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> Path:
    """A Qt tool of the PySide6 wheel, beside this Python."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found is not None, f"{name} comes with PySide6-Essentials; reinstall it"
        path = Path(found)
    return path


@pytest.fixture
def translators(qapp: QApplication) -> Iterator[list[QTranslator]]:
    """Translators installed by the test, removed after it."""
    installed: list[QTranslator] = []
    yield installed
    for translator in installed:
        QCoreApplication.removeTranslator(translator)


def extract(ts: Path) -> ET.ElementTree[ET.Element]:
    """Every tr() string of the window, as pyside6-lupdate finds them."""
    subprocess.run(
        [str(tool("pyside6-lupdate")), "-extensions", "py", "atom_desktop/gui", "-ts", str(ts)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return ET.parse(ts)


def test_a_compiled_translation_changes_a_visible_string(
    qtbot: QtBot, qapp: QApplication, tmp_path: Path, translators: list[QTranslator]
) -> None:
    ts = tmp_path / f"{CATALOGUE}_de.ts"
    tree = extract(ts)
    translated = 0
    for context in tree.getroot().iter("context"):
        if context.findtext("name") != "NewTokenDialog":
            continue
        for message in context.iter("message"):
            if message.findtext("source") == "New API token":
                translation = message.find("translation")
                assert translation is not None
                translation.text = "Neues API-Token"
                del translation.attrib["type"]  # no longer "unfinished"
                translated += 1
    assert translated == 1, "lupdate did not find the dialog's title"
    tree.write(ts, encoding="utf-8", xml_declaration=True)
    folder = tmp_path / "translations"
    folder.mkdir()
    subprocess.run(
        [str(tool("pyside6-lrelease")), str(ts), "-qm", str(folder / f"{CATALOGUE}_de.qm")],
        check=True,
        capture_output=True,
        timeout=60,
    )

    before = NewTokenDialog()
    qtbot.addWidget(before)
    assert before.windowTitle() == "New API token"

    translators += install_translations(qapp, QLocale("de_DE"), folder)
    assert any(t.filePath().endswith(f"{CATALOGUE}_de.qm") for t in translators)
    after = NewTokenDialog()
    qtbot.addWidget(after)
    assert after.windowTitle() == "Neues API-Token"


def test_no_translation_for_the_locale_leaves_the_source_strings(
    qtbot: QtBot, qapp: QApplication, tmp_path: Path, translators: list[QTranslator]
) -> None:
    translators += install_translations(qapp, QLocale(QLocale.Language.Esperanto), tmp_path)
    assert not any(t.filePath().startswith(str(tmp_path)) for t in translators)
    dialog = NewTokenDialog()
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "New API token"


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str | None, str | None]]:
    """(context, source) of every string lupdate extracts from the window's code."""
    tree = extract(tmp_path_factory.mktemp("lupdate") / "all.ts")
    return {
        (c.findtext("name"), m.findtext("source"))
        for c in tree.getroot().iter("context")
        for m in c.iter("message")
    }


@pytest.mark.parametrize(
    ("context", "source"),
    [
        ("SettingsPage", "API tokens"),
        ("UpdatesBox", "Check now"),
        ("AutomationsPage", "New (Ctrl+N)"),
        ("SyncPage", "Sync now"),
        ("IntegrationsPage", "Browse the catalogue"),
        ("TaskDialog", "New task"),
    ],
    ids=["settings", "updates", "automations", "sync", "integrations", "task-dialog"],
)
def test_page_strings_reach_the_catalogue(
    catalogue: set[tuple[str | None, str | None]], context: str, source: str
) -> None:
    assert (context, source) in catalogue
