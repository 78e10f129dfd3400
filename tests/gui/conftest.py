"""Qt tests run without a display: the offscreen platform, unless one is chosen already."""

from __future__ import annotations

import os

# Before any QApplication exists (pytest-qt makes it in its ``qapp`` fixture,
# after conftest files are imported); without a display Qt would abort.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
