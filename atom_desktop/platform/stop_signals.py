"""Stopping the agent when the system or the user asks (SIGTERM, Ctrl+C, Ctrl+Break).

asyncio's POSIX loops take signal handlers of their own
(``loop.add_signal_handler``), which run the callback on the loop. Windows'
Proactor loop has none (it raises ``NotImplementedError``), so there the
plain ``signal.signal`` handler is used: Python runs it on the main thread
(the loop's, as :meth:`Runtime.serve` runs it there), and it hands the
signal over to the loop with ``call_soon_threadsafe``, which also wakes a
loop that is waiting. Which of the two is used is decided in
:func:`choose_backend`, by the system alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

OnSignal = Callable[[signal.Signals], None]
Uninstall = Callable[[], None]
# What ``signal.signal`` returns and takes back.
_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def stop_signal_numbers() -> tuple[signal.Signals, ...]:
    """The signals that ask the agent to stop here: SIGINT, SIGTERM and, on Windows, SIGBREAK."""
    found = [signal.SIGINT, signal.SIGTERM]
    # Ctrl+Break in a console, and what ``CTRL_BREAK_EVENT`` sends to a process group.
    breaking = getattr(signal, "SIGBREAK", None)
    if breaking is not None:
        found.append(breaking)
    return tuple(found)


class StopSignals(Protocol):
    """A way to have the loop call ``on_signal`` when a stop signal arrives."""

    def install(self, loop: asyncio.AbstractEventLoop, on_signal: OnSignal) -> Uninstall:
        """Start listening; the returned function puts everything back as it was."""
        ...


class LoopStopSignals:
    """The POSIX backend: the loop's own signal handlers (``add_signal_handler``)."""

    def install(self, loop: asyncio.AbstractEventLoop, on_signal: OnSignal) -> Uninstall:
        """Handle SIGINT and SIGTERM on ``loop``; where the loop cannot, nothing is installed."""
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not available: a loop without signal support, or not on the main thread.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)

        def uninstall() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return uninstall


class PortableStopSignals:
    """The backend for every system (used on Windows): ``signal.signal`` handing over to the loop.

    It works on POSIX too, which is how its tests run on Linux.
    """

    def install(self, loop: asyncio.AbstractEventLoop, on_signal: OnSignal) -> Uninstall:
        """Handle the stop signals through ``signal.signal`` (main thread only; else nothing)."""
        previous: dict[signal.Signals, _Handler] = {}

        def handler(signum: int, frame: FrameType | None) -> None:
            # This runs on the main thread between two bytecodes of whatever
            # it was doing: only hand over, the loop does the work.
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(on_signal, signal.Signals(signum))

        for sig in stop_signal_numbers():
            # ValueError: not the main thread; OSError: a signal this system refuses.
            with contextlib.suppress(ValueError, OSError):
                previous[sig] = signal.signal(sig, handler)

        def uninstall() -> None:
            for sig, old in previous.items():
                with contextlib.suppress(ValueError, OSError):
                    # None: a handler set outside Python, which cannot be put back.
                    signal.signal(sig, signal.SIG_DFL if old is None else old)

        return uninstall


def choose_backend(platform: str = sys.platform) -> StopSignals:
    """The backend for ``platform``: the loop's handlers on POSIX, the portable one on Windows."""
    if platform == "win32":
        return PortableStopSignals()
    return LoopStopSignals()
