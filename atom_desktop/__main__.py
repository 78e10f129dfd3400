"""``python -m atom_desktop``: the same entry point as ``atom-desktop``."""

import sys

from atom_desktop.cli import main

sys.exit(main())
