"""Translations: the app's own strings and Qt's, chosen by the system locale.

Every user-visible string in the window goes through Qt's translation system
(``self.tr("...")`` in a class, ``QCoreApplication.translate(context, "...")``
elsewhere), so adding a language is adding a file, not changing code:

- ``scripts/translations update LANG`` extracts the strings with
  ``pyside6-lupdate`` into ``translations/atom_desktop_LANG.ts`` (edited with
  ``pyside6-linguist`` or any .ts editor);
- ``scripts/translations release`` compiles every .ts with
  ``pyside6-lrelease`` into ``resources/translations/atom_desktop_LANG.qm``,
  which the wheel ships and :func:`install_translations` loads at start.

No translation ships yet; with none for the locale the English source strings
show, as they would with no translator at all.

Counts use Qt's numerus forms, ``self.tr("%n run(s) waiting", "", n)``, so a
language with other plural rules gets them from its translation. English is
the source language and has no catalogue: :func:`english_plural` settles the
source's ``(s)`` when no translation replaced it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from atom_desktop.resource_files import translations_dir

logger = logging.getLogger(__name__)

#: The base name of the app's .qm files: ``atom_desktop_de.qm``, ``atom_desktop_pt_BR.qm``.
CATALOGUE = "atom_desktop"


def install_translations(
    app: QCoreApplication, locale: QLocale | None = None, folder: Path | None = None
) -> list[QTranslator]:
    """Install the translators for ``locale`` (the system's by default) on ``app``.

    Qt's own catalogue (``qtbase``: the standard buttons of dialogs) comes from
    Qt's translations folder; the app's from ``folder`` (the packaged
    ``resources/translations`` by default). The most specific file wins:
    ``atom_desktop_pt_BR.qm`` before ``atom_desktop_pt.qm``, in the order of
    the locale's UI languages. Returns the translators installed (kept alive
    as children of ``app``); none when nothing matches the locale.
    """
    locale = locale if locale is not None else QLocale.system()
    folder = folder if folder is not None else translations_dir()
    sources = (
        ("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        (CATALOGUE, str(folder)),
    )
    installed = []
    for name, directory in sources:
        translator = QTranslator(app)
        if translator.load(locale, name, "_", directory):
            app.installTranslator(translator)
            installed.append(translator)
            logger.info("Translation loaded: %s", translator.filePath())
        else:
            translator.deleteLater()
    return installed


_PLURAL_S = re.compile(r"\((e?s)\)")


def english_plural(text: str, count: int) -> str:
    """``text`` from a numerus ``tr()`` with the English source's ``(s)`` (or ``(es)``)
    settled for ``count``: dropped for one, kept without brackets otherwise.

    A translation's own plural forms carry no ``(s)`` and come back unchanged.
    """
    return _PLURAL_S.sub("" if count == 1 else r"\1", text)
