"""The hybrid logical clock stamp every synced row carries, as the server stores it.

A stamp is one non-negative ``bigint``: the wall-clock milliseconds since the
Unix epoch in the high 48 bits and a logical counter in the low 16. Ordering
stamps is then plain integer ordering, in Python and in SQL alike (``hlc >
EXCLUDED.hlc`` in an upsert, a b-tree index), with no parsing and no
zero-padding rules that a text form would need. 48 bits of milliseconds last
until the year 10889; 16 bits allow 65,536 changes within one millisecond of
one device before the counter borrows the next millisecond. Equal stamps
from two devices are ordered by their device ids.
"""

from __future__ import annotations

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
