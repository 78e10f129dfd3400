"""A translation added as a file changes the window's strings, with no code change.

The whole path is the real one: ``pyside6-lupdate`` extracts the strings from
the package's source, a translator fills one in, ``pyside6-lrelease``
compiles it, and :func:`install_translations` (what the app calls at start)
loads it for the locale.
"""

from __future__ import annotations

import ast
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

from atom_desktop.gui.pages.automation_fields import COMMON_ZONES
from atom_desktop.gui.pages.token_dialogs import NewTokenDialog
from atom_desktop.gui.translations import CATALOGUE, english_plural, install_translations

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


def test_counts_are_numerus_forms(tmp_path: Path) -> None:
    tree = extract(tmp_path / "all.ts")
    numerus = {
        m.findtext("source")
        for c in tree.getroot().iter("context")
        for m in c.iter("message")
        if m.get("numerus") == "yes"
    }
    assert {
        " · %n conflict(s)",
        " · %n running",
        " · %n approval(s) waiting",
        "%n change(s)",
        "Next %n fire time(s), in your local time:",
        "Plan of %n step(s): %1",
        "%1 · %n message(s) · %2",
    } <= numerus


def test_english_plural_settles_the_source_s() -> None:
    assert english_plural("1 approval(s) waiting", 1) == "1 approval waiting"
    assert english_plural("2 approval(s) waiting", 2) == "2 approvals waiting"
    assert english_plural("0 match(es)", 0) == "0 matches"
    assert english_plural("2 Genehmigungen warten", 2) == "2 Genehmigungen warten"


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
        ("SettingsPage", "Data:"),
        ("IntegrationsPage", "Projects and knowledge"),
        ("IntegrationsPage", "Checking %1…"),
        ("ProviderDialog", "Personal access token"),
        ("ConnectionForm", "Schema missing"),
        ("SyncPage", "Sync: %1 (%2 pending)"),
        ("SyncCounts", " · %n conflict(s)"),
        ("AutomationsPage", " · %n running"),
        ("SyncPage", "%n change(s)"),
        ("AutomationsPage", "the agent was paused"),
        ("AutomationsPage", "never run"),
        ("AutomationEditor", "Ask me first, in the approvals inbox"),
        ("TriggerForm", "Next %n fire time(s), in your local time:"),
        ("ShellStepForm", "Command timeout"),
        ("status", "Denied"),
        ("status", "Waiting for sign-in"),
        ("HomePage", "Show the question"),
        ("Tray", "ATOM Desktop: starting…"),
        ("Tray", "Ask…"),
        ("AssistantPage", "New conversation"),
        ("MessageBubble", "What did you send?"),
        ("PlanCard", "Approve all and run"),
        ("StepRow", "needs approval"),
        ("AssistantSettingsBox", "Load models"),
        ("AssistantSettingsBox", "Shell commands"),
        ("StepForms", "not valid JSON (%1)"),
        ("AutomationEditor", "line %1, column %2: %3"),
        ("TriggerForm", "cron %1 (%2)"),
    ],
    ids=str,
)
def test_page_strings_reach_the_catalogue(
    catalogue: set[tuple[str | None, str | None]], context: str, source: str
) -> None:
    assert (context, source) in catalogue


# -- no untranslated words ----------------------------------------------------------------
#
# The pages below (and the tray) had their user-visible strings put through tr() one by one. This
# check keeps them so: a string literal or f-string with words in it (a space, or a
# capital letter first) that is not an argument of tr(), translate() or
# QT_TRANSLATE_NOOP() fails here, unless it is listed as not for people to read
# (identifiers, formats, style sheets, examples of syntax). Logging, exceptions
# raised and docstrings are left alone.

CHECKED_MODULES = (
    "pages/settings.py",
    "pages/automations.py",
    "pages/automation_editor.py",
    "pages/automation_fields.py",
    "pages/step_forms.py",
    "pages/trigger_form.py",
    "pages/sync.py",
    "pages/sync_connection_form.py",
    "sync_words.py",
    "pages/integrations.py",
    "pages/integration_dialogs.py",
    "tray.py",
    "pages/assistant.py",
    "pages/assistant_settings.py",
    "plan_card.py",
)
#: Calls whose string arguments are translated, or never shown as words.
NOT_SHOWN_OR_TRANSLATED = frozenset(
    {
        "tr",
        "translate",
        "QT_TRANSLATE_NOOP",
        "QT_TR_NOOP",
        "setStyleSheet",
        "setObjectName",
        "setProperty",
        "setDisplayFormat",
        "strftime",
        "get",
        "startswith",
        "endswith",
    }
)
#: Strings in those modules that are not words for people ({} marks an f-string's value).
NOT_WORDS = {
    "pages/settings.py": {"ATOM_PORT", "ATOM_ALLOWED_ORIGINS"},
    "pages/automations.py": {"HTTP {}", "Ctrl+R"},
    # Time-zone names (the zone list's own) and a date format.
    "pages/automation_fields.py": {
        *COMMON_ZONES,
        "yyyy-MM-dd HH:mm:ss",
    },
    # Syntax examples inside error messages, an HTTP method, a task title template.
    "pages/step_forms.py": {"NAME=value", "Name: value", "GET", "Follow up on ${automation.name}"},
    "pages/integrations.py": {"%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"},
}


#: Logging calls (``logger.info(...)``): for the log, not the window.
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception"})


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _not_for_people(call: ast.Call) -> bool:
    func = call.func
    if _call_name(func) in NOT_SHOWN_OR_TRANSLATED:
        return True
    return (
        isinstance(func, ast.Attribute)
        and func.attr in LOG_METHODS
        and isinstance(func.value, ast.Name)
        and func.value.id in ("logger", "logging", "log")
    )


def untranslated_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string with words in ``source`` that no tr() covers."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    docstrings = {
        node.body[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            if isinstance(parents.get(node), ast.FormattedValue):
                continue  # a format spec: f"{when:%H:%M}"
            text = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node in docstrings or isinstance(parents.get(node), ast.JoinedStr):
                continue
            text = node.value
        else:
            continue
        words = text.replace("{}", "").strip()
        if not any(c.isalpha() for c in words) or not (" " in words or words[:1].isupper()):
            continue
        if text.startswith("color:"):
            continue  # a style sheet
        parent = parents.get(node)
        covered = False
        while parent is not None:
            if isinstance(parent, ast.Raise | ast.Subscript) or (
                isinstance(parent, ast.Call) and _not_for_people(parent)
            ):
                covered = True
                break
            parent = parents.get(parent)
        if not covered:
            found.append((node.lineno, text))
    return found


@pytest.mark.parametrize("module", CHECKED_MODULES, ids=lambda m: m.split("/")[-1][:-3])
def test_no_untranslated_words_in_the_pages(module: str) -> None:
    source = (ROOT / "atom_desktop" / "gui" / module).read_text()
    allowed = NOT_WORDS.get(module, set())
    untranslated = [
        f"{module}:{line}: {text!r}"
        for line, text in untranslated_strings(source)
        if text not in allowed
    ]
    assert untranslated == [], "put these through tr() (or list them in NOT_WORDS)"


def test_the_untranslated_words_check_finds_them() -> None:
    source = (
        "class Page:\n"
        "    '''Docstrings are not shown.'''\n"
        "    def show(self, n):\n"
        "        self.label.setText(f'{n} runs waiting')\n"
        "        self.other.setText(self.tr('%n run(s) waiting', '', n))\n"
        "        self.box.setTitle('Settings')\n"
        "        logger.info('Shown %s', n)\n"
        "        self.label.setStyleSheet('color: red;')\n"
        "        QMessageBox.warning(self, 'Careful', 'Really?')\n"
    )
    assert untranslated_strings(source) == [
        (4, "{} runs waiting"),
        (6, "Settings"),
        (9, "Careful"),
        (9, "Really?"),
    ]
