"""A histogram as plain numbers: what services count for the metrics.

Services must not depend on a metrics library; they count into a
:class:`Tally`, and the API's collector (api/metrics/) reads it at scrape
time. Recording is a bisect and three additions: cheap enough for every
request and every write. Not locked: each tally is written from one thread
(or under its owner's lock), and a scrape reads a copy (:meth:`snapshot`).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

#: Seconds, from half a millisecond to a minute.
SECONDS_BOUNDS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


@dataclass(frozen=True, slots=True)
class TallySnapshot:
    """A tally's numbers at one moment: cumulative counts per upper bound."""

    bounds: tuple[float, ...]
    #: Observations at or below each bound, then the total (the +Inf bucket).
    cumulative: tuple[int, ...]
    total: float


class Tally:
    """Counts of observations per bucket, and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = SECONDS_BOUNDS) -> None:
        self.bounds = bounds
        # One more than the bounds: the last holds what is above them all.
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def snapshot(self) -> TallySnapshot:
        """The numbers now, as Prometheus' cumulative buckets want them."""
        counts = list(self.counts)  # one copy: a writer may go on meanwhile
        running = 0
        cumulative = []
        for n in counts:
            running += n
            cumulative.append(running)
        return TallySnapshot(self.bounds, tuple(cumulative), self.total)
