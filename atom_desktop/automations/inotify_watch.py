"""watchdog's inotify observer, plus what it does not report (Linux).

watchdog 6 drops the kernel's queue-overflow record (``IN_Q_OVERFLOW`` has
``wd == -1`` and ``Inotify.read_events`` skips it, gorakhargosh/watchdog#654),
swallows the error when the watch limit stops a new subfolder from being
watched, gives folders moved in from outside no watches, and goes on
reporting a renamed watched folder's events under its old path. The reader
here notices each of these and sends a :class:`Marker` along with the events,
so the file watcher (``file_watch.py``) can rescan, poll or re-check the
folder. Elsewhere :func:`make_observer` is the platform's own observer.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent
from watchdog.observers.api import BaseObserver

logger = logging.getLogger(__name__)

SYSCTL = Path("/proc/sys/fs/inotify")


class Marker(FileSystemEvent):
    """Not a change but news from our inotify reader, sent along with the events.

    ``request`` says what the worker is to do about the watch of ``src_path``.
    """

    event_type = "marker"
    request = ""


class QueueOverflowed(Marker):
    """Events may have been lost: rescan."""

    request = "overflow"


class WatchLimitReached(Marker):
    """A new subfolder could not be watched: poll instead."""

    request = "watch-limit"


class FolderMovedAway(Marker):
    """The watched folder itself was renamed: its events would carry the old path."""

    request = "check"


if sys.platform.startswith("linux"):
    from watchdog.observers.inotify import InotifyEmitter
    from watchdog.observers.inotify_buffer import InotifyBuffer
    from watchdog.observers.inotify_c import (
        DEFAULT_EVENT_BUFFER_SIZE,
        WATCHDOG_ALL_EVENTS,
        Inotify,
        InotifyConstants,
        InotifyEvent,
    )
    from watchdog.utils import BaseThread
    from watchdog.utils.delayed_queue import DelayedQueue

    #: The largest inotify record: 16-byte header and a 255-byte name, NUL-padded to 16.
    _LARGEST_RECORD = 16 + 256
    #: Queue limit assumed when /proc cannot say; low only means more (harmless) rescans.
    _FALLBACK_QUEUE_LIMIT = 1024
    _READ_CAP = 8 * 1024 * 1024

    def _record_size(event: InotifyEvent) -> int:
        # The kernel pads a name and its NUL to a multiple of the 16-byte header.
        return 16 + ((len(event.name) + 16) // 16 * 16 if event.name else 0)

    class _Inotify(Inotify):
        """watchdog's inotify reader, plus what it does not report.

        Overflow: watchdog skips the kernel's IN_Q_OVERFLOW record
        (gorakhargosh/watchdog#654). A read that leaves room for the largest
        record has emptied the kernel queue; once the records read since the
        queue was last empty reach its limit, the queue was full and may have
        overflowed. Each read is sized to empty a full queue, so in practice
        only a real overflow (or a queue filled to the brim) gets there.

        Watch limit: watchdog swallows the OSError when it cannot watch a new
        subfolder, which would leave that subfolder unwatched for good.

        Folders moved in from outside get no watches in watchdog (only created
        ones do); they are watched here.

        The watched folder being renamed is passed on at once (watchdog would
        go on reporting its events under the old path).
        """

        def __init__(
            self,
            path: bytes,
            *,
            recursive: bool,
            event_mask: int | None,
            signal: Callable[[type[Marker]], None],
        ) -> None:
            self._signal = signal
            self._running = False
            # Read now: the kernel sizes this instance's queue when it is created.
            self._queue_limit = _queue_limit()
            self._read_size = max(
                DEFAULT_EVENT_BUFFER_SIZE,
                min((self._queue_limit + 1) * _LARGEST_RECORD, _READ_CAP),
            )
            self._read_since_empty = 0
            try:
                mask = WATCHDOG_ALL_EVENTS if event_mask is None else event_mask
                mask |= InotifyConstants.IN_MOVE_SELF
                super().__init__(path, recursive=recursive, event_mask=mask)
            except OSError:
                self._close_after_failed_start()
                raise
            self._running = True

        def _close_after_failed_start(self) -> None:
            # Inotify.__init__ does not close its descriptors when adding a watch fails.
            for name in ("_inotify_fd", "_kill_r", "_kill_w"):
                descriptor = getattr(self, name, None)
                if isinstance(descriptor, int):
                    with contextlib.suppress(OSError):
                        os.close(descriptor)

        def read_events(
            self, *, event_buffer_size: int = DEFAULT_EVENT_BUFFER_SIZE
        ) -> list[InotifyEvent]:
            del event_buffer_size  # ours is sized to empty a full queue in one read
            try:
                events = super().read_events(event_buffer_size=self._read_size)
            except KeyError:
                # watchdog looks watches up by descriptor without checking (e.g. for a
                # subfolder it failed to watch): that read's events are lost.
                logger.warning("inotify: events lost while reading", exc_info=True)
                self._read_since_empty = 0
                self._signal(QueueOverflowed)
                return []
            self._read_since_empty += len(events)
            if self._read_since_empty >= self._queue_limit:
                self._read_since_empty = 0
                self._signal(QueueOverflowed)
            elif sum(_record_size(e) for e in events) <= self._read_size - _LARGEST_RECORD:
                self._read_since_empty = 0
            if any(e.is_move_self and e.src_path == self.path for e in events):
                self._signal(FolderMovedAway)
            if self.is_recursive:
                self._watch_moved_in(events)
            return events

        def _watch_moved_in(self, events: list[InotifyEvent]) -> None:
            for event in events:
                if not (event.is_moved_to and event.is_directory):
                    continue
                with self._lock:
                    if event.src_path in self._wd_for_path:
                        continue  # moved within the watch: watchdog moved its watches along
                    pending = [event.src_path]
                    while pending:
                        folder = pending.pop()
                        with contextlib.suppress(OSError):
                            self._add_watch(folder, self.event_mask)
                            with os.scandir(folder) as entries:
                                pending.extend(
                                    entry.path
                                    for entry in entries
                                    if entry.is_dir(follow_symlinks=False)
                                )

        def _add_watch(self, path: bytes, mask: int) -> int:
            try:
                return super()._add_watch(path, mask)
            except OSError as exc:
                if self._running and exc.errno == errno.ENOSPC:
                    self._signal(WatchLimitReached)
                raise

    def _queue_limit() -> int:
        try:
            return max(1, int((SYSCTL / "max_queued_events").read_text()))
        except (OSError, ValueError):
            return _FALLBACK_QUEUE_LIMIT

    class _Buffer(InotifyBuffer):
        """watchdog's InotifyBuffer, reading through :class:`_Inotify`."""

        def __init__(
            self,
            path: bytes,
            *,
            recursive: bool,
            event_mask: int | None,
            signal: Callable[[type[Marker]], None],
        ) -> None:
            # InotifyBuffer.__init__ makes a plain Inotify and starts reading at
            # once; this is the same set-up with ours in its place.
            BaseThread.__init__(self)
            self._queue = DelayedQueue["InotifyEvent | tuple[InotifyEvent, InotifyEvent]"](
                self.delay
            )
            self._inotify = _Inotify(
                path,
                recursive=recursive,
                event_mask=event_mask,
                signal=signal,
            )
            self.start()

    class _Emitter(InotifyEmitter):
        """watchdog's inotify emitter with our reader; its markers travel with the events."""

        def on_thread_start(self) -> None:
            path = self.watch.path
            self._inotify = _Buffer(
                os.fsencode(path),
                recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                signal=lambda marker: self.queue_event(marker(path)),
            )

    def make_observer() -> BaseObserver:
        return BaseObserver(emitter_class=_Emitter)

else:

    def make_observer() -> BaseObserver:
        from watchdog.observers import Observer  # noqa: PLC0415 - the platform's own

        return Observer()
