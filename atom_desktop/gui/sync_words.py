"""Sync's state in words, for the tray, Home and the Sync page.

Apart from the Sync page so that the tray and Home, which are built before the
window's first paint, need none of the page's widgets (the page is built once
the agent has started).
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject

from atom_desktop.gui.translations import english_plural

#: Each sync state in words (SyncService's states), marked for translation.
STATE_WORDS = {
    "off": QT_TRANSLATE_NOOP("SyncPage", "off"),
    "syncing": QT_TRANSLATE_NOOP("SyncPage", "syncing"),
    "up_to_date": QT_TRANSLATE_NOOP("SyncPage", "up to date"),
    "offline": QT_TRANSLATE_NOOP("SyncPage", "offline"),
    "error": QT_TRANSLATE_NOOP("SyncPage", "error"),
}
#: States that mean sync is in trouble (the tray says so).
TROUBLE = frozenset({"offline", "error"})


def state_words(state: str) -> str:
    """A sync state as a person reads it (translated)."""
    words = STATE_WORDS.get(state)
    if words is None:
        return state.replace("_", " ")
    return QCoreApplication.translate("SyncPage", str(words))


def sync_line(state: str, pending: int, conflicts: int = 0) -> str:
    """One line for the tray menu: the state, what waits, and open conflicts."""
    if state == "off":
        text = QCoreApplication.translate("SyncPage", "Sync: off")
    elif state in TROUBLE:
        text = QCoreApplication.translate("SyncPage", "Sync: %1 (%2 pending)")
    else:
        text = QCoreApplication.translate("SyncPage", "Sync: %1 · %2 pending")
    text = text.replace("%1", state_words(state)).replace("%2", str(pending))
    if conflicts:
        text += SyncCounts().conflicts(conflicts)
    return text


class SyncCounts(QObject):
    """Sync's counted words, for the functions above. (pyside6-lupdate marks a string
    as having plural forms only in a ``self.tr()`` call, not in ``translate()``.)"""

    def conflicts(self, count: int) -> str:
        """`` · 2 conflicts``."""
        return english_plural(self.tr(" · %n conflict(s)", "", count), count)
