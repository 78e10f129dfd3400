"""Take PySide6's ``__feature__`` import hook back out of ``builtins.__import__``.

Importing PySide6 wraps ``builtins.__import__`` so that ``from __feature__
import snake_case`` can switch Qt's naming per module. To know which modules
use Qt at all, the wrapper reads the source of every module imported after it
(``inspect.getsource``) and looks for the word "PySide6". The agent imports
about 900 modules after the window's first Qt import; reading them kept
every line of their source in ``linecache`` for the life of the process
(about 34 MiB) and took a share of the agent's start-up.

The app uses no ``__feature__``, so the wrapper buys it nothing. What remains
is the import PySide6 wrapped (its own lazy loader of Qt modules, then
Python's). If a later PySide6 changes these names, nothing is touched and the
app only pays the old cost; a test notices.
"""

from __future__ import annotations

import builtins


def drop_feature_import_hook() -> bool:
    """Restore the import PySide6's feature hook wraps; True if it was in place."""
    hook = getattr(builtins, "__feature_import__", None)
    wrapped = getattr(builtins, "__orig_import__", None)
    if hook is None or wrapped is None or builtins.__import__ is not hook:
        return False
    builtins.__import__ = wrapped
    return True
