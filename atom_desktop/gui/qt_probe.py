"""What the doctor asks Qt, in a child process of its own (``doctor --probe-qt``).

Qt aborts a process that cannot open its display; run apart, that abort is
an answer ("the display does not open") rather than the end of the doctor.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QApplication, QSystemTrayIcon


def probe() -> int:
    """Open the display, print one JSON line (Qt version, platform, tray), exit 0."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    answer = {
        "qt": qVersion(),
        "platform": QApplication.platformName(),
        "tray": QSystemTrayIcon.isSystemTrayAvailable(),
    }
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    del app
    return 0
