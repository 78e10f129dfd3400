"""The Diagnostics page's figures, sampled once a second into 15 minutes of history.

A sample is the process's CPU use and resident memory (psutil, this process
only: two small reads of ``/proc/self``), and what the agent's services count
as plain numbers: requests answered, output bytes read from runs, runs
running. Rates are differences of those counts between two samples. Reading
them takes microseconds and no lock, so it happens on the window's thread,
from a timer; nothing here touches the store or waits for the agent's loop.

Sampling starts when the page is built (after the agent starts) and goes on
whether the page is shown or not, so the plots have their history when it
is opened. The history is plain ``deque``\\ s: numpy and the plotting library
are loaded only when the page is first shown.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import psutil
from PySide6.QtCore import QObject, Qt, QTimer, Signal

if TYPE_CHECKING:
    from atom_desktop.runtime import Runtime

#: Seconds between samples.
SAMPLE_INTERVAL_S = 1.0
#: Samples kept: 15 minutes at one a second.
HISTORY_LENGTH = 900


class Series(StrEnum):
    """What is plotted, one curve each."""

    CPU = "cpu"  # percent of one core (above 100 when several threads are busy)
    RSS = "rss"  # resident memory, bytes
    REQUESTS = "requests"  # API requests answered per second
    RUNS = "runs"  # runs running
    OUTPUT = "output"  # run output read per second, bytes


@dataclass(frozen=True, slots=True)
class Counts:
    """The agent's running totals at one moment."""

    requests: int = 0
    output_bytes: int = 0
    running: int = 0


def agent_counts(runtime: Runtime | None) -> Counts:
    """The agent's totals now (zero while it is not running).

    Called on the window's thread: each is a number the agent thread keeps
    up to date, read without a lock (an int read is atomic; a dict is copied
    before it is summed, so a writer adding a key meanwhile does no harm).
    """
    if runtime is None:
        return Counts()
    runner = runtime.runner
    return Counts(
        requests=runtime.api.requests_answered,
        output_bytes=sum(dict(runner.output_bytes).values()),
        running=runner.running_count,
    )


class History:
    """The last :data:`HISTORY_LENGTH` samples: a time and a value per series."""

    def __init__(self, length: int = HISTORY_LENGTH) -> None:
        self.times: deque[float] = deque(maxlen=length)
        self.values: dict[Series, deque[float]] = {s: deque(maxlen=length) for s in Series}

    def __len__(self) -> int:
        return len(self.times)

    def add(self, at: float, values: dict[Series, float]) -> None:
        """Append one sample (a value for every series)."""
        self.times.append(at)
        for series, column in self.values.items():
            column.append(values[series])

    def latest(self, series: Series) -> float | None:
        """The newest value of ``series`` (None before the first sample)."""
        column = self.values[series]
        return column[-1] if column else None


class Sampler(QObject):
    """Samples once a second on the window's thread; ``sampled`` follows each sample."""

    sampled = Signal()

    def __init__(
        self,
        counts: Callable[[], Counts],
        parent: QObject | None = None,
        *,
        interval_s: float = SAMPLE_INTERVAL_S,
        length: int = HISTORY_LENGTH,
    ) -> None:
        super().__init__(parent)
        self._counts = counts
        self.history = History(length)
        self._process = psutil.Process()
        self._last: tuple[float, float, Counts] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(round(interval_s * 1000))
        # A second, give or take a few ms, is all a plot of 15 minutes needs.
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.timeout.connect(self.sample)

    @property
    def running(self) -> bool:
        """Whether the timer runs."""
        return self._timer.isActive()

    def start(self) -> None:
        """Take the first reading now and a sample every interval from then on."""
        self._last = self._reading()
        self._timer.start()

    def stop(self) -> None:
        """Stop sampling (the history stays)."""
        self._timer.stop()

    def _reading(self) -> tuple[float, float, Counts]:
        times = self._process.cpu_times()
        return time.monotonic(), times.user + times.system, self._counts()

    def sample(self) -> None:
        """Take one sample: rates since the last reading, and the levels now."""
        now, cpu, counts = reading = self._reading()
        rss = self._process.memory_info().rss
        last = self._last
        self._last = reading
        if last is None:
            return
        then, cpu_then, counts_then = last
        elapsed = max(now - then, 1e-3)
        self.history.add(
            now,
            {
                Series.CPU: max(0.0, cpu - cpu_then) / elapsed * 100.0,
                Series.RSS: float(rss),
                # A restarted agent counts from zero again: no negative rates.
                Series.REQUESTS: max(0, counts.requests - counts_then.requests) / elapsed,
                Series.RUNS: float(counts.running),
                Series.OUTPUT: max(0, counts.output_bytes - counts_then.output_bytes) / elapsed,
            },
        )
        self.sampled.emit()
