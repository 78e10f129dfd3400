"""The hybrid logical clock stamp every synced row carries, as the server stores it.

A stamp is one non-negative ``bigint``: the wall-clock milliseconds since the
Unix epoch in the high 48 bits and a logical counter in the low 16. Ordering
stamps is then plain integer ordering, in Python and in SQL alike (``hlc >
EXCLUDED.hlc`` in an upsert, a b-tree index), with no parsing and no
zero-padding rules that a text form would need. 48 bits of milliseconds last
until the year 10889; 16 bits allow 65,536 changes within one millisecond of
one device before the counter borrows the next millisecond. Equal stamps
from two devices are ordered by their device ids.

It lives in core because the store stamps each change inside the
transaction that makes it, and sync compares the same stamps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
PHYSICAL_MAX_MS = (1 << (63 - COUNTER_BITS)) - 1


def pack(physical_ms: int, counter: int) -> int:
    """The stamp of wall-clock ``physical_ms`` and logical ``counter``."""
    if not 0 <= physical_ms <= PHYSICAL_MAX_MS:
        raise ValueError(f"physical time {physical_ms} ms is outside 0..{PHYSICAL_MAX_MS}")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError(f"counter {counter} is outside 0..{COUNTER_MAX}")
    return (physical_ms << COUNTER_BITS) | counter


def unpack(stamp: int) -> tuple[int, int]:
    """``(physical_ms, counter)`` of a stamp."""
    if not 0 <= stamp < 1 << 63:
        raise ValueError(f"{stamp} is not a stamp (a non-negative bigint)")
    return stamp >> COUNTER_BITS, stamp & COUNTER_MAX


def wall_ms() -> int:
    """The wall clock in milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class HybridClock:
    """Hands out stamps that only grow, and stay ahead of every stamp it has seen.

    ``now()`` takes the wall clock when it is ahead, else counts on from the
    last stamp, so a clock set back (or a device behind its peers) never
    stamps a change older than one it made or received before. ``observe()``
    is the receive rule: the next stamp is later than the remote one. Safe to
    share between threads.
    """

    def __init__(self, last: int = 0, wall: Callable[[], int] = wall_ms) -> None:
        self._lock = threading.Lock()
        self._last = last
        self._wall = wall

    @property
    def last(self) -> int:
        """The latest stamp made or observed (what must survive a restart)."""
        return self._last

    def now(self) -> int:
        """A new stamp, greater than every stamp made or observed before."""
        physical = min(max(self._wall(), 0), PHYSICAL_MAX_MS)
        with self._lock:
            last_physical, last_counter = unpack(self._last)
            if physical > last_physical:
                stamp = pack(physical, 0)
            elif last_counter < COUNTER_MAX:
                stamp = pack(last_physical, last_counter + 1)
            else:
                # The counter is spent within this millisecond: borrow the next one.
                stamp = pack(last_physical + 1, 0)
            self._last = stamp
            return stamp

    def observe(self, remote: int) -> None:
        """Receive a stamp from elsewhere: later stamps of ours will be greater."""
        unpack(remote)  # refuses what is no stamp
        with self._lock:
            self._last = max(self._last, remote)
