"""The error every platform backend raises for what this system cannot do."""

from __future__ import annotations

from atom_desktop.core.errors import AtomError


class PlatformNotSupportedError(AtomError):
    """What was asked for does not exist on this operating system; the message says what to do."""
