"""What an alert can be about: one vocabulary for the agent, its settings and the window.

An alert is a problem the person should hear about even with the window
closed: one desktop notification, and the tray icon's error state until the
window is opened. Each kind has a setting of its own, named
``alerts_<kind>`` (``ATOM_ALERTS_<KIND>``), on by default.
"""

from __future__ import annotations

from enum import StrEnum

#: The settings that turn a kind on or off are named with this and the kind.
SETTING_PREFIX = "alerts_"


class AlertKind(StrEnum):
    """The conditions that raise an alert."""

    AUTOMATION_FAILED = "automation_failed"
    SERVICE_STOPPED = "service_stopped"
    DISK_FULL = "disk_full"
    KEYRING_LOCKED = "keyring_locked"
    INTEGRATION_RECONNECT = "integration_reconnect"


def setting_name(kind: AlertKind) -> str:
    """The setting that turns ``kind`` on or off, e.g. ``alerts_disk_full``."""
    return f"{SETTING_PREFIX}{kind.value}"
