"""Alerts: the problems a person should hear about even with the window closed.

Each becomes one :class:`~atom_desktop.core.events.AlertRaised` event on the
bus; the window shows it as a desktop notification and puts the tray icon in
its error state until the window is opened, and API clients see it on the
event stream and at ``GET /api/v1/alerts``. Where the conditions come from:

- ``automation_failed``: the automation's run ended failed, timed out or
  interrupted, and the automation asks to be told of failures (its
  ``notify.failure``, on by default); the run executor calls
  :meth:`Alerts.raise_alert`.
- ``integration_reconnect``: the provider no longer accepts an account's
  grant; the integrations service calls :meth:`Alerts.raise_alert` when the
  account becomes "reconnect needed".
- ``service_stopped``: a :class:`~atom_desktop.core.events.ServiceStopped`
  event (diagnostics/service_tasks.py), a service's long-lived task having
  ended with an error.
- ``disk_full``: checked every minute: less than ``alerts_disk_free_mib`` free
  on the data folder's disk. Told when it becomes so, not every minute; and
  whenever a logged exception says a write found the disk full
  (:mod:`.disk_full`).
- ``keyring_locked``: checked every minute where the keyring can be asked
  without a prompt (a Secret Service), told when it becomes locked; and on
  any platform when reading or storing a secret finds it locked.

Each kind can be turned off (``alerts_<kind>``, at once from the window, or
in the config file or environment), and a problem that repeats is told at
most once per ``alerts_every_min`` (:mod:`.alert_limit`). Titles and messages
pass the redactor: no secret reaches a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from atom_desktop.config.settings import Settings
from atom_desktop.core.alert_kinds import AlertKind, setting_name
from atom_desktop.core.events import AlertRaised, Event, EventBus, ServiceStopped, Unsubscribe
from atom_desktop.core.redaction import Redactor
from atom_desktop.diagnostics.alert_limit import AlertLimit
from atom_desktop.diagnostics.disk_full import DiskFullLogHandler

logger = logging.getLogger(__name__)

#: How often the disk and the keyring are looked at.
CHECK_EVERY_S = 60.0
#: Alerts kept for ``GET /api/v1/alerts``, newest last.
RECENT_ALERTS = 50
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as it was raised."""

    kind: AlertKind
    subject: str
    title: str
    message: str
    time: datetime
    repeats: int


class Alerts:
    """Raises alerts (thread-safe) and runs the periodic disk and keyring checks."""

    name = "alerts"

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        redactor: Redactor,
        data_dir: Path,
        *,
        keyring_locked: Callable[[], bool] | None = None,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        """``keyring_locked``: whether the keyring in use is locked now, asked without a prompt."""
        self._bus = bus
        self._redactor = redactor
        self._data_dir = data_dir
        self._keyring_locked = keyring_locked
        self._check_every_s = check_every_s
        self._disk_free_min = int(settings.alerts_disk_free_mib * _MIB)
        self._limit = AlertLimit(settings.alerts_every_min * 60)
        self._lock = threading.Lock()
        self._enabled = {kind: bool(getattr(settings, setting_name(kind))) for kind in AlertKind}
        self._recent: deque[Alert] = deque(maxlen=RECENT_ALERTS)
        # Conditions found by the checks, told when they begin.
        self._disk_low = False
        self._locked = False
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Unsubscribe | None = None
        self._log_handler: DiskFullLogHandler | None = None

    # -- settings ---------------------------------------------------------------------

    def enabled(self, kind: AlertKind) -> bool:
        """Whether alerts of ``kind`` are raised."""
        with self._lock:
            return self._enabled[kind]

    def set_enabled(self, kind: AlertKind, enabled: bool) -> None:
        """Turn alerts of ``kind`` on or off from now on (the config file keeps it for later)."""
        with self._lock:
            self._enabled[kind] = enabled
        logger.info("Alerts of kind %s turned %s", kind.value, "on" if enabled else "off")

    # -- raising ----------------------------------------------------------------------

    def raise_alert(
        self, kind: AlertKind, subject: str, title: str, message: str
    ) -> AlertRaised | None:
        """Publish an alert unless its kind is off or the rate limit holds it back.

        Returns what was published, or None. Safe from any thread.
        """
        if not self.enabled(kind):
            logger.debug("Alert %s about %s not raised: turned off", kind.value, subject)
            return None
        repeats = self._limit.admit(kind.value, subject)
        if repeats is None:
            logger.info("Alert %s about %s held back by the rate limit", kind.value, subject)
            return None
        redact = self._redactor.redact
        title, message = redact(title), redact(message)
        if repeats:
            message += (
                f" ({repeats} more alert{'s' if repeats != 1 else ''} of this kind held back)"
            )
        payload = AlertRaised(
            alert=kind.value, subject=subject, title=title, message=message, repeats=repeats
        )
        with self._lock:
            self._recent.append(Alert(kind, subject, title, message, datetime.now(UTC), repeats))
        logger.warning("Alert: %s: %s", title, message)
        self._bus.publish(payload)
        return payload

    def recent(self) -> list[Alert]:
        """The alerts raised lately, newest first."""
        with self._lock:
            return list(reversed(self._recent))

    def keyring_found_locked(self) -> None:
        """Reading or storing a secret found the keyring locked (the vault's hook)."""
        self._raise_keyring_locked()

    # -- life -------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Follow stopped services and failed writes; start the periodic checks."""
        self._unsubscribe = self._bus.subscribe(self._on_service_stopped, ServiceStopped.kind)
        self._log_handler = DiskFullLogHandler(self._write_found_disk_full)
        logging.getLogger().addHandler(self._log_handler)
        self._task = asyncio.create_task(self._async_checks(), name="alert-checks")

    async def async_stop(self) -> None:
        """Stop checking and following."""
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _async_checks(self) -> None:
        while True:
            try:
                await self.async_check()
            except Exception:  # a check must never end the checks
                logger.exception("An alert check failed; it runs again later")
            await asyncio.sleep(self._check_every_s)

    async def async_check(self) -> None:
        """Look at the disk and the keyring once (their blocking parts off the loop).

        What changed is decided back on the loop, so checks that overlap
        (the periodic one and one asked for) tell a condition once.
        """
        free = await asyncio.to_thread(self._free_space)
        if free is not None:
            low = free < self._disk_free_min
            if low and not self._disk_low:
                self._raise_disk_full(free)
            self._disk_low = low
        if self._keyring_locked is not None:
            locked = await asyncio.to_thread(self._keyring_locked)
            if locked and not self._locked:
                self._raise_keyring_locked()
            self._locked = locked

    # -- conditions --------------------------------------------------------------------

    def _free_space(self) -> int | None:
        try:
            return shutil.disk_usage(self._data_dir).free
        except OSError as exc:
            logger.warning("Could not read the free space of %s: %s", self._data_dir, exc)
            return None

    def _raise_disk_full(self, free: int) -> None:
        self.raise_alert(
            AlertKind.DISK_FULL,
            str(self._data_dir),
            "The disk is almost full",
            f"Only {free / _MIB:.0f} MiB are free on the disk of ATOM Desktop's data "
            f"folder ({self._data_dir}). Saving tasks, runs and their output fails when "
            "it is full: free some space.",
        )

    def _write_found_disk_full(self) -> None:
        self.raise_alert(
            AlertKind.DISK_FULL,
            str(self._data_dir),
            "The disk is full",
            "ATOM Desktop could not write to the disk: it is full. Saving tasks, runs and "
            "their output fails until you free some space.",
        )

    def _raise_keyring_locked(self) -> None:
        self.raise_alert(
            AlertKind.KEYRING_LOCKED,
            "keyring",
            "The OS keyring is locked",
            "ATOM Desktop cannot read or store secrets it does not hold already "
            "(integration tokens, the sync password) until it is unlocked. Unlock it: log in "
            "to the desktop session again, or open the keyring in your passwords app.",
        )

    def _on_service_stopped(self, event: Event) -> None:
        payload = event.payload
        assert isinstance(payload, ServiceStopped)
        self.raise_alert(
            AlertKind.SERVICE_STOPPED,
            payload.service,
            f"Part of ATOM Desktop stopped: {payload.service}",
            f"It failed with {payload.error}; the rest keeps working. Restart ATOM Desktop "
            "to bring it back. An error report was saved in the data folder.",
        )
