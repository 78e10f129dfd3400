"""A watchdog on the Qt event loop for the desktop tests."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer


class QtLoopWatchdog:
    """A 10 ms timer on the Qt thread that records the gaps between its ticks.

    ``gaps`` are wall-clock. ``stalls`` are what of each gap the Qt thread
    can answer for. On a shared machine the runnable thread may be kept off
    the CPU for 100 ms and more (seen here with two other busy processes: the
    kernel's run queue, and on this VM the host pausing the virtual CPU,
    which the guest accounts nowhere). So, from the thread's own counters
    (Linux ``schedstat`` and ``getrusage``): a gap in which the thread never
    went to sleep counts as the CPU time it used; a gap in which it slept
    counts in full but for the time the kernel made it wait for a CPU, so a
    call that blocks still counts. Elsewhere than Linux, gaps count in full.
    """

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.stalls: list[float] = []
        self._schedstat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        self._last = (time.perf_counter(), *self._counters())
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = (time.perf_counter(), *self._counters())
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def report(self) -> str:
        return (
            f"longest gap {max(self.gaps) * 1000:.0f} ms, "
            f"longest of the Qt thread's own making {max(self.stalls) * 1000:.0f} ms"
        )

    def _counters(self) -> tuple[float, float, int]:
        """CPU time used, time waited for a CPU, times gone to sleep (this thread)."""
        slept = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        try:
            used, waited = self._schedstat.read_text().split()[:2]
        except OSError:
            # No schedstat: count every gap in full (as if it had slept).
            return 0.0, 0.0, slept + len(self.gaps) + 1
        return int(used) / 1e9, int(waited) / 1e9, slept

    def _tick(self) -> None:
        now, used, waited, slept = time.perf_counter(), *self._counters()
        then, used_then, waited_then, slept_then = self._last
        gap = now - then
        self.gaps.append(gap)
        if slept == slept_then:
            self.stalls.append(used - used_then)
        else:
            self.stalls.append(max(0.0, gap - (waited - waited_then)))
        self._last = (now, used, waited, slept)
