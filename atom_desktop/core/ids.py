"""Time-ordered UUIDs (RFC 9562 version 7).

Python 3.11 has no ``uuid.uuid7``. Ids made by one :class:`IdFactory` are
strictly increasing even within one millisecond (the 12-bit ``rand_a`` field
is used as a counter, RFC 9562 section 6.2 method 1), so sorting by id sorts
by creation.
"""

from __future__ import annotations

import os
import threading
import time
import uuid


class IdFactory:
    """Makes strictly increasing UUIDv7 strings; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def new(self) -> str:
        """Return a new id, greater than every id this factory made before."""
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                # Start the counter low and random so two factories rarely collide.
                self._counter = int.from_bytes(os.urandom(2), "big") & 0x1FF
            else:
                self._counter += 1
                if self._counter > 0xFFF:
                    # Counter exhausted in this millisecond: borrow the next one.
                    self._last_ms += 1
                    self._counter = 0
            ms, counter = self._last_ms, self._counter
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= counter << 64
        value |= 0b10 << 62
        value |= rand_b
        return str(uuid.UUID(int=value))
