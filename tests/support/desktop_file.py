"""Checking freedesktop entries with the real ``desktop-file-validate``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def validate_desktop_file(path: Path) -> None:
    """Fail unless ``desktop-file-validate`` accepts ``path`` without a word.

    The tool comes with the system packages ./scripts/test installs
    (Debian: desktop-file-utils); a machine without it fails here, not skips.
    """
    tool = shutil.which("desktop-file-validate")
    assert tool is not None, "desktop-file-validate is missing: run ./scripts/test to install it"
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    # It prints errors, warnings and hints; any of them fails.
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout
