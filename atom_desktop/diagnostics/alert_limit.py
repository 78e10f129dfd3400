"""The rate rule of alerts: a problem that repeats is told once in a while, not every time.

An alert is let through when

- no alert of the same kind *and* subject (the same automation, account,
  service, folder) was let through in the last ``window_s`` seconds, and
- fewer than ``burst`` alerts of its kind were let through in that time.

Alerts held back are counted per kind; the next one of that kind let
through carries the count ("and 3 more"), so nothing is silently lost from
the person's view and a burst (twenty automations failing in the same
minute) makes at most ``burst`` notifications. A window of 0 lets every
alert through.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: Alerts of one kind let through per window, whatever their subjects.
KIND_BURST = 3


class AlertLimit:
    """Decides, per kind and subject, whether an alert is shown now (thread-safe)."""

    def __init__(
        self,
        window_s: float,
        *,
        burst: int = KIND_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}
        self._shown: dict[str, deque[float]] = {}
        self._held: dict[str, int] = {}

    def admit(self, kind: str, subject: str) -> int | None:
        """None when the alert is held back; else how many of its kind were held back before."""
        if self._window_s <= 0:
            return 0
        now = self._clock()
        since = now - self._window_s
        with self._lock:
            shown = self._shown.setdefault(kind, deque())
            while shown and shown[0] <= since:
                shown.popleft()
            last = self._last.get((kind, subject))
            if (last is not None and last > since) or len(shown) >= self._burst:
                self._held[kind] = self._held.get(kind, 0) + 1
                return None
            self._last[(kind, subject)] = now
            shown.append(now)
            return self._held.pop(kind, 0)
