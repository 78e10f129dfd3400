"""The desktop app: the only package that imports Qt (PySide6)."""

import PySide6  # noqa: F401 - installs the import hook taken out just below

from atom_desktop.gui.feature_hook import drop_feature_import_hook

# First thing after Qt's own import, before the window's modules and the
# agent's stack are imported: see feature_hook.
drop_feature_import_hook()
