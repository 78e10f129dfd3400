"""PySide6's ``__feature__`` import hook is taken out when the gui package loads.

The hook reads the source of every module imported after Qt into
``linecache`` (see ``atom_desktop.gui.feature_hook``). These tests import a
fresh module each and look for its source there.
"""

from __future__ import annotations

import builtins
import linecache
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import atom_desktop.gui  # noqa: F401 - loading the package takes the hook out
from atom_desktop.gui.feature_hook import drop_feature_import_hook

ProbeWriter = Callable[[str], Path]


@pytest.fixture
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProbeWriter]:
    """Writes a one-line module to import; forgets it and its cached lines after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[tuple[str, Path]] = []

    def write(name: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text("VALUE = 1\n", encoding="utf-8")
        written.append((name, path))
        return path

    yield write
    for name, path in written:
        sys.modules.pop(name, None)
        linecache.cache.pop(str(path), None)


def test_the_gui_package_leaves_imports_reading_no_source(probe_module: ProbeWriter) -> None:
    assert builtins.__import__ is not getattr(builtins, "__feature_import__", None)
    path = probe_module("atom_probe_after_gui")

    module = __import__("atom_probe_after_gui")

    assert module.VALUE == 1
    assert str(path) not in linecache.cache


def test_pysides_hook_reads_the_source_of_what_is_imported(
    probe_module: ProbeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The premise of the module: if a PySide6 release stops reading sources,
    # this fails and drop_feature_import_hook can go.
    monkeypatch.setattr(builtins, "__import__", builtins.__feature_import__)  # type: ignore[attr-defined]
    path = probe_module("atom_probe_with_hook")

    __import__("atom_probe_with_hook")

    assert str(path) in linecache.cache


def test_dropping_restores_the_import_pyside_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtins, "__import__", builtins.__feature_import__)  # type: ignore[attr-defined]

    assert drop_feature_import_hook() is True
    assert builtins.__import__ is builtins.__orig_import__  # type: ignore[attr-defined]
    assert drop_feature_import_hook() is False  # already out: nothing to do
