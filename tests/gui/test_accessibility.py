"""Every control has a name assistive technology can read, on every page and dialog.

The name is the one Qt's accessibility interface gives a screen reader (see
``tests/gui/a11y_walk.py``): a button's own text counts, and so does the
label of a form row, since that is what is read out; a control that shows
only an icon, or a field with no label, does not.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QPushButton, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from atom_desktop.gui.app import DesktopApp
from atom_desktop.gui.main_window import PAGES
from atom_desktop.gui.pages.assistant import SentDialog
from atom_desktop.gui.pages.automation_editor import AutomationEditor
from atom_desktop.gui.pages.integration_dialogs import ConnectDialog, KeyDialog, ProviderView
from atom_desktop.gui.pages.task_dialog import TaskDialog
from atom_desktop.gui.pages.token_dialogs import NewTokenDialog, TokenSecretDialog
from atom_desktop.gui.plan_card import StepEditDialog
from tests.gui.a11y_walk import accessible_name, describe, interactive_widgets, unnamed


@pytest.mark.parametrize("name", PAGES, ids=[p.lower() for p in PAGES])
def test_every_control_of_a_page_has_an_accessible_name(
    qtbot: QtBot, desktop: DesktopApp, name: str
) -> None:
    window = desktop.window
    window.show()
    qtbot.waitExposed(window)
    page = window.page(name)
    assert list(interactive_widgets(page)), f"the walk found no control on {name}"
    assert unnamed(page) == [], f"controls without an accessible name on {name}"


def test_the_window_around_the_pages_is_named(qtbot: QtBot, desktop: DesktopApp) -> None:
    """The navigation rail and whatever else the window has beside its pages."""
    window = desktop.window
    pages = [window.page(p) for p in PAGES]
    outside = [w for w in interactive_widgets(window) if not any(p.isAncestorOf(w) for p in pages)]
    assert window.rail in outside
    assert [describe(w) for w in outside if not accessible_name(w)] == []


def oauth_provider() -> ProviderView:
    return ProviderView(
        id="acme",
        name="Acme",
        category="Developer",
        auth="oauth2",
        docs="https://acme.example/docs",
        parameters=("subdomain",),
        notes="",
        is_oauth=True,
        examples={"subdomain": "https://{subdomain}.acme.example"},
    )


def key_provider() -> ProviderView:
    return ProviderView(
        id="keyed",
        name="Keyed",
        category="Messaging",
        auth="api_key",
        docs="https://keyed.example/docs",
        parameters=(),
        notes="",
        is_oauth=False,
        needed=("key", "secret"),
    )


def no_browser(url: QUrl) -> None:
    raise AssertionError(f"no browser in this test: {url.toString()}")


DIALOGS: dict[str, Callable[[], QWidget]] = {
    "new-token": NewTokenDialog,
    "token-secret": lambda: TokenSecretDialog("backup", "atom_" + "x" * 43),
    "task": TaskDialog,
    "automation-editor": AutomationEditor,
    "connect": lambda: ConnectDialog(oauth_provider(), no_browser, ask_client=True),
    "add-key": lambda: KeyDialog(key_provider(), no_browser),
    "step-edit": lambda: StepEditDialog({"type": "shell", "shell": "echo hi"}, 1),
    "what-was-sent": lambda: SentDialog([{"role": "system", "content": "Plan."}]),
}


@pytest.mark.parametrize("make", DIALOGS.values(), ids=DIALOGS.keys())
def test_every_control_of_a_dialog_has_an_accessible_name(
    qtbot: QtBot, make: Callable[[], QWidget]
) -> None:
    dialog = make()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert list(interactive_widgets(dialog))
    assert unnamed(dialog) == []


def test_the_walk_tells_named_from_unnamed_controls(qtbot: QtBot) -> None:
    """What a screen reader would read: text, a form row's label or a set name; not an icon."""
    root = QWidget()
    qtbot.addWidget(root)
    form = QFormLayout(root)
    icon_only = QToolButton()
    icon_only.setObjectName("icon_only")
    bare = QLineEdit()
    bare.setObjectName("bare")
    labelled = QLineEdit()
    form.addRow(icon_only)
    form.addRow(bare)
    form.addRow("&Title:", labelled)
    form.addRow(QPushButton("&Save"))
    named = QComboBox()
    named.setAccessibleName("Colour")
    form.addRow(named)
    root.show()
    assert accessible_name(labelled) == "Title:"
    assert [line.split(" < ")[0] for line in unnamed(root)] == [
        "QToolButton#icon_only",
        "QLineEdit#bare",
    ]
