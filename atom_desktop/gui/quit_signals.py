"""SIGTERM and SIGINT end the desktop app gracefully.

Python runs signal handlers only between bytecodes, and the Qt event loop
may sleep in C for a long time; the wakeup fd makes the signal a readable
byte on a socket that Qt watches, so the handler runs at once, with no
polling timer.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType

from PySide6.QtCore import QSocketNotifier

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def quit_on_signals(quit_app: Callable[[], object]) -> Iterator[None]:
    """Call ``quit_app`` on the Qt thread when SIGINT or SIGTERM arrives."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            reader.recv(64)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        quit_app()

    notifier.activated.connect(drain)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        reader.close()
        writer.close()
