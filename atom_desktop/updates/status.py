"""The update status the window, the API and the event stream show."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from atom_desktop.core.events import EventPayload


class UpdateState(enum.StrEnum):
    """Where updates stand."""

    #: This copy never checks (from source, no key, opted out); ``message`` says why.
    OFF = "off"
    #: Waiting for the first check.
    IDLE = "idle"
    CHECKING = "checking"
    UP_TO_DATE = "up_to_date"
    #: A newer version is offered (``available``, ``notes``); its download follows.
    AVAILABLE = "available"
    DOWNLOADING = "downloading"
    #: Downloaded and verified: "Install now" applies it.
    READY = "ready"
    #: Install asked for while runs are active; applied when they end.
    DEFERRED = "deferred"
    #: The new version is being unpacked beside this one; the app still runs.
    APPLYING = "applying"
    #: The handover process runs and this app quits now (the window quits on this state).
    HANDING_OVER = "handing_over"
    #: The last step failed or was refused; ``message`` says why. The app is unchanged.
    FAILED = "failed"
    #: The last update did not start and the previous version was restored.
    ROLLED_BACK = "rolled_back"
    #: This start is the new version after a successful update.
    UPDATED = "updated"


@dataclass(frozen=True)
class UpdateStatus:
    """A snapshot of the update state."""

    state: UpdateState
    installed: str
    message: str | None = None
    available: str | None = None
    notes: str | None = None
    received: int = 0
    total: int = 0
    runs_active: int = 0
    checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UpdateStatusChanged(EventPayload):
    """The update state changed (or a download made progress, at most a few times a second)."""

    kind: ClassVar[str] = "update.status"
    state: str
    message: str | None
    available: str | None
    received: int
    total: int
    runs_active: int
