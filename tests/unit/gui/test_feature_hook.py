"""PySide6's ``__feature__`` import hook is taken out when the gui package loads.

The hook reads the source of every module imported after Qt into
``linecache`` (see ``atom_desktop.gui.feature_hook``). These tests import a
fresh module each and look for its source there.
"""

from __future__ import annotations

import builtins
import linecache
import sys
from pathlib import Path

import pytest

import atom_desktop.gui  # noqa: F401 - loading the package takes the hook out
from atom_desktop.gui.feature_hook import drop_feature_import_hook


def write_module(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    # Forget the module and any cached lines when the test ends.
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    monkeypatch.setattr(linecache, "cache", dict(linecache.cache))
    return path


def test_the_gui_package_leaves_imports_reading_no_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert builtins.__import__ is not getattr(builtins, "__feature_import__", None)
    path = write_module(tmp_path, "atom_probe_after_gui", monkeypatch)

    module = __import__("atom_probe_after_gui")

    assert module.VALUE == 1
    assert str(path) not in linecache.cache


def test_pysides_hook_reads_the_source_of_what_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The premise of the module: if a PySide6 release stops reading sources,
    # this fails and drop_feature_import_hook can go.
    monkeypatch.setattr(builtins, "__import__", builtins.__feature_import__)  # type: ignore[attr-defined]
    path = write_module(tmp_path, "atom_probe_with_hook", monkeypatch)

    __import__("atom_probe_with_hook")

    assert str(path) in linecache.cache


def test_dropping_restores_the_import_pyside_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtins, "__import__", builtins.__feature_import__)  # type: ignore[attr-defined]

    assert drop_feature_import_hook() is True
    assert builtins.__import__ is builtins.__orig_import__  # type: ignore[attr-defined]
    assert drop_feature_import_hook() is False  # already out: nothing to do
