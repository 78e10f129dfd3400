"""Who made a change, as the audit log records it: one vocabulary for every layer.

The store writes it, the API publishes it, the window shows and writes it;
all import it from here (the window before the store is loaded, hence core).
"""

from __future__ import annotations

from enum import StrEnum


class Actor(StrEnum):
    """Through which door a change came."""

    #: A request to the HTTP API; the entry names its token.
    API = "api"
    #: A person at the desktop window, which uses no token.
    WINDOW = "window"
