"""File triggers: watch folders with watchdog and hand on debounced batches of file changes.

One :class:`FileWatcher` owns one watchdog observer and one thread of its own
(the worker). Events go from watchdog's dispatcher thread into a debounce
window per key; the worker closes each window ``debounce_s`` after its first
change and calls ``on_batch`` with every path changed in it. Only files are
reported, never folders.

What is reported:

- **Kinds.** Within a window each path is reported once, with its latest kind,
  except that a modification does not hide that the file was created or moved
  in the same window (a new file with content is ``created``, not
  ``modified``); ``created`` then ``deleted`` is ``deleted``. Kinds the trigger
  did not ask for are dropped when the window closes.
- **Moves.** A rename inside a watched folder is one ``moved`` change at the
  destination. When ``moved`` is not among the trigger's events, or the
  destination does not match its globs, the rename is reported as what it
  looks like through the filters: the destination ``created`` (if it matches)
  and the source ``deleted`` (if it matched). A move out of the folder is a
  deletion and a move in is a creation (watchdog reports an unpaired move-out
  half a second late, while it waits for a possible other half). A source
  that already had a change in the open window becomes ``deleted``, so a
  batch never lists a path that was moved away as created.
- **Folders.** A folder moved out of the watch (or deleted without its files
  being reported first) reports every file that was known in it as
  ``deleted``: each watch keeps a snapshot of its matching files, nested by
  folder, so this costs a lookup, not a scan. A folder moved in reports its
  files as ``created``.
- **Snapshots and rescans.** The snapshot (path -> mtime_ns, size, inode) is
  taken when a watch starts and kept current from the events. A rescan walks
  the folder and reports every difference from the snapshot, then replaces
  it; the batch then has ``rescanned`` set. Rescans happen after a queue
  overflow, on ``rescan()``, when a missing folder appears and, for folders
  that cannot have inotify watches, periodically. A rescan may report again a
  change whose event is still on its way (or was reported just before); it
  never drops one. A change that leaves mtime, size and inode as they were is
  invisible to a rescan.
- **Missing folders.** A watched folder that does not exist (yet), or that is
  deleted, moved away or replaced, is checked every ``recheck_missing_s``;
  ``on_problem`` says so once. Files that were known in it are reported
  ``deleted`` when it goes; when a folder appears there again, its files are
  reported ``created`` through a rescan.

Linux specifics (inotify). watchdog 6 drops the kernel's queue-overflow record
(``IN_Q_OVERFLOW`` has ``wd == -1`` and ``Inotify.read_events`` skips it,
gorakhargosh/watchdog#654), so the reader here infers an overflow instead: it
counts the records read since the kernel queue was last seen empty, and a
count that reaches ``fs.inotify.max_queued_events`` means the queue was full,
so events may be lost. The watched folder is then rescanned and
``on_problem`` is told. The same reader notices when the system's watch limit
stops a new subfolder from being watched (watchdog ignores that too) and
switches the folder to polling; a folder that cannot be watched at all
(``fs.inotify.max_user_watches`` or ``max_user_instances`` reached) is polled
from the start. Polling rescans the folder every ``recheck_missing_s``, or
more rarely if a scan is slow (at most about a tenth of the time is spent
scanning). A folder is tried with inotify again only when it is watched
anew (``watch()``) or comes back after going missing. A watched folder that
is deleted or renamed is noticed at once (watchdog would go on reporting
the events of a renamed folder under its old path); the periodic check
catches the rest, such as a folder replaced by another.

:meth:`FileWatcher.watch` scans the folder for its snapshot before it returns,
so call it off the event loop. Pending changes are dropped by ``unwatch``,
when a watch is replaced, and at ``stop``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import ObservedWatch

from atom_desktop.automations.globs import GlobFilter, check_globs, expand_path
from atom_desktop.automations.inotify_watch import SYSCTL, Marker, make_observer
from atom_desktop.automations.triggers import FileTrigger

__all__ = ["FileBatch", "FileChange", "FileWatcher", "check_globs"]

logger = logging.getLogger(__name__)

#: Modification time (ns), size and inode of a file: what a rescan compares.
_Stat = tuple[int, int, int]
_Mode = Literal["inotify", "polling", "missing"]

#: At most this share of the time goes into polling a folder that inotify cannot watch.
_POLL_DUTY = 0.1
#: The longest wait between tries to watch a folder the system refused to watch.
_RETRY_CAP_S = 60.0


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file: its absolute path and its kind (created, modified, deleted, moved)."""

    path: str
    kind: str


@dataclass(frozen=True, slots=True)
class FileBatch:
    """The changes of one debounce window of one watch, one per path, sorted by path."""

    key: str
    changes: tuple[FileChange, ...]
    first_event_at: float
    """``time.monotonic()`` of the first change in the window."""
    rescanned: bool
    """Whether some of the changes were found by a rescan rather than reported by events."""

    @property
    def paths(self) -> tuple[str, ...]:
        """The changed paths, in the order of ``changes``."""
        return tuple(change.path for change in self.changes)


# Folder creations are left out: their files come as (synthetic) file events.
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    Marker,
]


class _Tree:
    """Known files below one folder, nested by subfolder so a whole folder can go at once."""

    __slots__ = ("files", "folders")

    def __init__(self) -> None:
        self.files: dict[str, _Stat] = {}
        self.folders: dict[str, _Tree] = {}

    @classmethod
    def of(cls, found: dict[str, _Stat]) -> _Tree:
        tree = cls()
        for relative, file_stat in found.items():
            tree.put(relative, file_stat)
        return tree

    def put(self, relative: str, file_stat: _Stat) -> None:
        *folders, name = relative.split("/")
        node = self
        for part in folders:
            child = node.folders.get(part)
            if child is None:
                child = node.folders[part] = _Tree()
            node = child
        node.files[name] = file_stat

    def pop(self, relative: str) -> _Stat | None:
        *folders, name = relative.split("/")
        trail = self._trail(folders)
        if trail is None:
            return None
        found = trail[-1][1].files.pop(name, None)
        self._prune(trail)
        return found

    def pop_folder(self, relative: str) -> _Tree | None:
        *folders, name = relative.split("/")
        trail = self._trail(folders)
        if trail is None:
            return None
        found = trail[-1][1].folders.pop(name, None)
        self._prune(trail)
        return found

    def items(self, prefix: str = "") -> Iterator[tuple[str, _Stat]]:
        """Every known file as (path below this folder with ``prefix`` in front, stat)."""
        stack: list[tuple[str, _Tree]] = [(prefix, self)]
        while stack:
            base, node = stack.pop()
            for name, file_stat in node.files.items():
                yield base + name, file_stat
            stack.extend((f"{base}{name}/", child) for name, child in node.folders.items())

    def _trail(self, folders: list[str]) -> list[tuple[str, _Tree]] | None:
        trail: list[tuple[str, _Tree]] = [("", self)]
        for part in folders:
            child = trail[-1][1].folders.get(part)
            if child is None:
                return None
            trail.append((part, child))
        return trail

    @staticmethod
    def _prune(trail: list[tuple[str, _Tree]]) -> None:
        # Emptied folders go, so that the tree stays as small as what it knows.
        while len(trail) > 1 and not trail[-1][1].files and not trail[-1][1].folders:
            name, _ = trail.pop()
            del trail[-1][1].folders[name]


@dataclass(eq=False)
class _Root:
    """One folder as the observer sees it, shared by every key watching it the same way."""

    path: str
    recursive: bool
    keys: set[str] = field(default_factory=set)
    mode: _Mode = "missing"
    watch: ObservedWatch | None = None
    handler: _Handler | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder being watched
    told_missing: bool = False
    next_poll: float = 0.0
    # A folder that is there but cannot be watched (a recursive watch of
    # /proc fails, as its folders come and go while they are added): each
    # try walks the whole tree, so the tries space out.
    failed_tries: int = 0
    next_try: float = 0.0

    @property
    def prefix(self) -> str:
        return self.path if self.path.endswith("/") else self.path + "/"

    def relative(self, path: str) -> str | None:
        """``path`` below this folder; None outside it (or in a subfolder, when not recursive)."""
        prefix = self.prefix
        if not path.startswith(prefix) or len(path) == len(prefix):
            return None
        relative = path[len(prefix) :]
        if not self.recursive and "/" in relative:
            return None
        return relative


@dataclass(eq=False)
class _Window:
    first_event_at: float
    due: float
    changes: dict[str, str] = field(default_factory=dict)
    rescanned: bool = False


@dataclass(eq=False)
class _Key:
    key: str
    globs: GlobFilter
    wanted: frozenset[str]
    debounce_s: float
    roots: tuple[_Root, ...]
    trees: dict[str, _Tree]
    window: _Window | None = None


class _Handler(FileSystemEventHandler):
    """The observer's handler for one activation of one root; everything goes to the watcher."""

    def __init__(self, root: _Root, sink: Callable[[_Handler, FileSystemEvent], None]) -> None:
        self.root = root
        self._sink = sink

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._sink(self, event)
        except Exception:
            # An exception here would end watchdog's dispatcher thread, and with it every watch.
            logger.exception("file watch: failed to handle %s", event)


class FileWatcher:
    """Watches folders for file triggers and reports debounced batches of changes.

    ``on_batch`` and ``on_problem(key, message)`` are called from the
    watcher's own thread, one call at a time; hand them on to the event loop.
    Problems are also logged.
    """

    def __init__(
        self,
        on_batch: Callable[[FileBatch], None],
        *,
        default_debounce_s: float = 2.0,
        on_problem: Callable[[str, str], None] | None = None,
        recheck_missing_s: float = 1.0,
    ) -> None:
        self._on_batch = on_batch
        self._on_problem = on_problem
        self._default_debounce_s = default_debounce_s
        self._recheck_s = recheck_missing_s
        self._observer = make_observer()
        self._worker = threading.Thread(target=self._run, name="atom-file-watch", daemon=True)
        # Lock order: _admin (watch set-up, scans, observer calls), then _cond
        # (keys, windows, snapshots, roots' state: what events touch). The
        # observer's dispatcher holds its own lock while it calls us and then
        # takes _cond, so the observer is never called with _cond held.
        self._admin = threading.RLock()
        self._cond = threading.Condition(threading.Lock())
        self._keys: dict[str, _Key] = {}
        self._roots: dict[tuple[str, bool], _Root] = {}
        self._ready: list[tuple[_Key, FileBatch]] = []
        self._requests: dict[tuple[str, bool], set[str]] = {}
        self._problems: list[tuple[str, str]] = []
        self._started = False
        self._stopped = False

    def start(self) -> None:
        """Start the observer and the worker, and begin every watch added so far."""
        with self._admin:
            if self._stopped:
                raise RuntimeError("a stopped FileWatcher cannot be started again")
            if self._started:
                return
            self._observer.start()
            self._worker.start()
            self._started = True
            for root in list(self._roots.values()):
                if self._activate(root):
                    for key in sorted(root.keys):
                        self._rescan(self._keys[key], root, report=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and join every thread this watcher started; pending changes are dropped."""
        with self._admin:
            if self._stopped:
                return
            self._stopped = True
        with self._cond:
            self._cond.notify_all()
        if not self._started:
            return
        # The observer unschedules every watch on stop, joining its emitters
        # and their inotify readers.
        self._observer.stop()
        self._observer.join(timeout)
        if self._worker is not threading.current_thread():
            self._worker.join(timeout)
        for thread in (self._observer, self._worker):
            if thread.is_alive() and thread is not threading.current_thread():
                logger.warning("file watch: %s did not stop within %.1f s", thread.name, timeout)

    def watch(self, key: str, trigger: FileTrigger) -> None:
        """Watch ``trigger``'s paths as ``key``, replacing an earlier watch of that key.

        Raises TriggerError for a bad path or glob. Scans the folders for
        their snapshots before returning.
        """
        check_globs(trigger)
        paths = list(dict.fromkeys(expand_path(path) for path in trigger.paths))
        debounce_s = self._default_debounce_s if trigger.debounce_s is None else trigger.debounce_s
        with self._admin:
            if self._stopped:
                raise RuntimeError("the FileWatcher is stopped")
            self._unwatch(key)
            roots = tuple(self._root(path, trigger.recursive) for path in paths)
            state = _Key(
                key=key,
                globs=GlobFilter(trigger.include, trigger.exclude),
                wanted=frozenset(trigger.events),
                debounce_s=debounce_s,
                roots=roots,
                trees={root.path: _Tree() for root in roots},
            )
            with self._cond:
                self._keys[key] = state
                for root in roots:
                    root.keys.add(key)
            if not self._started:
                return
            for root in roots:
                if root.mode == "missing" and root.told_missing:
                    # The others were told when it went missing; this key is new.
                    problem = _folder_problem(root.path)
                    message = _missing_message(root.path, problem, self._recheck_s)
                    with self._cond:
                        self._tell_locked((key,), message)
                elif root.mode == "missing":
                    self._activate(root)
                if root.mode != "missing":
                    self._rescan(state, root, report=False)

    def unwatch(self, key: str) -> None:
        """Stop watching ``key`` (if watched); its pending changes are dropped."""
        with self._admin:
            self._unwatch(key)

    def rescan(self, key: str) -> None:
        """Compare ``key``'s folders with their snapshots and report the differences.

        They join the key's debounce window like events do, with
        ``rescanned`` set. Nothing happens for an unknown key or before
        ``start``.
        """
        with self._admin:
            state = self._keys.get(key)
            if state is None or not self._started or self._stopped:
                return
            for root in state.roots:
                if root.mode != "missing":
                    self._rescan(state, root, report=True)

    # -- set-up (under _admin) -------------------------------------------------

    def _root(self, path: str, recursive: bool) -> _Root:
        root = self._roots.get((path, recursive))
        if root is None:
            root = self._roots[(path, recursive)] = _Root(path, recursive)
        return root

    def _unwatch(self, key: str) -> None:
        with self._cond:
            state = self._keys.pop(key, None)
            if state is None:
                return
            for root in state.roots:
                root.keys.discard(key)
        for root in state.roots:
            if not root.keys:
                self._deactivate(root)
                del self._roots[(root.path, root.recursive)]

    def _activate(self, root: _Root) -> bool:
        """Watch ``root`` with inotify, else by polling; False when it is not a readable folder."""
        problem = _folder_problem(root.path)
        if problem is not None:
            with self._cond:
                root.mode = "missing"
                root.identity = None
                if not root.told_missing:
                    root.told_missing = True
                    message = _missing_message(root.path, problem, self._recheck_s)
                    self._tell_locked(root.keys, message)
            return False
        identity = _identity(root.path)
        handler = _Handler(root, self._on_event)
        with self._cond:
            # Set before scheduling: events can arrive before schedule() returns.
            root.mode, root.handler, root.identity = "inotify", handler, identity
        try:
            watch = self._observer.schedule(
                handler, root.path, recursive=root.recursive, event_filter=_EVENT_FILTER
            )
        except OSError as exc:
            # watchdog leaves the handler registered when the emitter fails to start.
            with contextlib.suppress(KeyError):
                failed = ObservedWatch(
                    root.path, recursive=root.recursive, event_filter=_EVENT_FILTER
                )
                self._observer.remove_handler_for_watch(handler, failed)
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                self._poll_instead(root, _limit_message(root.path, exc.errno, self._recheck_s))
                return True
            with self._cond:
                root.mode, root.handler, root.identity = "missing", None, None
                root.failed_tries += 1
                wait = min(self._recheck_s * 2**root.failed_tries, _RETRY_CAP_S)
                root.next_try = time.monotonic() + wait
                if not root.told_missing:
                    root.told_missing = True
                    self._tell_locked(root.keys, _unwatchable_message(root.path, exc.strerror))
            return False
        with self._cond:
            root.watch = watch
            root.told_missing, root.failed_tries = False, 0
        return True

    def _deactivate(self, root: _Root) -> None:
        with self._cond:
            watch, root.watch, root.handler = root.watch, None, None
            root.mode = "missing"
        if watch is not None:
            with contextlib.suppress(KeyError):
                self._observer.unschedule(watch)

    def _poll_instead(self, root: _Root, message: str) -> None:
        self._deactivate(root)
        with self._cond:
            root.mode = "polling"
            root.identity = _identity(root.path)
            root.next_poll = time.monotonic() + self._recheck_s
            self._tell_locked(root.keys, message)

    def _rescan(self, state: _Key, root: _Root, *, report: bool) -> None:
        """Replace ``state``'s snapshot of ``root``; with ``report``, record the differences."""
        try:
            found = _scan(root.path, root.recursive, state.globs)
        except OSError:
            # The folder went away; the next check reports its files as deleted.
            self._request(root, "check")
            return
        now = time.monotonic()
        with self._cond:
            if self._keys.get(state.key) is not state or root.mode == "missing":
                return
            if report:
                known = dict(state.trees[root.path].items())
                prefix = root.prefix
                for relative, file_stat in found.items():
                    before = known.pop(relative, None)
                    if before is None:
                        self._record(state, prefix + relative, "created", now, rescanned=True)
                    elif before != file_stat:
                        self._record(state, prefix + relative, "modified", now, rescanned=True)
                for relative in known:
                    self._record(state, prefix + relative, "deleted", now, rescanned=True)
            state.trees[root.path] = _Tree.of(found)

    # -- events (watchdog's dispatcher thread) -----------------------------------

    def _on_event(self, handler: _Handler, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        now = time.monotonic()
        with self._cond:
            root = handler.root
            if root.handler is not handler:
                return  # from a watch that has since been replaced or removed
            if isinstance(event, Marker):
                self._request_locked(root, event.request)
            elif isinstance(event, DirDeletedEvent) and src == root.path:
                self._request_locked(root, "check")
            else:
                dest = os.fsdecode(event.dest_path) if event.dest_path else ""
                for key in root.keys:
                    self._apply(self._keys[key], root, event, src=src, dest=dest, now=now)

    def _apply(
        self, state: _Key, root: _Root, event: FileSystemEvent, *, src: str, dest: str, now: float
    ) -> None:
        tree = state.trees[root.path]
        relative = root.relative(src)
        if relative is None:
            return
        if isinstance(event, DirDeletedEvent):
            gone = tree.pop_folder(relative)
            if gone is not None:
                for path, _ in gone.items(f"{src}/"):
                    self._record(state, path, "deleted", now)
        elif isinstance(event, DirMovedEvent):
            # Its files follow as synthetic file moves, which fill in the destination.
            tree.pop_folder(relative)
        elif isinstance(event, FileMovedEvent):
            self._apply_move(state, root, src=src, relative=relative, dest=dest, now=now)
        elif state.globs.matches(relative):
            if isinstance(event, FileDeletedEvent):
                tree.pop(relative)
                self._record(state, src, "deleted", now)
            else:
                _remember(tree, relative, src)
                self._record(
                    state, src, "created" if event.event_type == "created" else "modified", now
                )

    def _apply_move(
        self, state: _Key, root: _Root, *, src: str, relative: str, dest: str, now: float
    ) -> None:
        tree = state.trees[root.path]
        source_counts = state.globs.matches(relative)
        if source_counts:
            tree.pop(relative)
        dest_relative = root.relative(dest)
        dest_counts = dest_relative is not None and state.globs.matches(dest_relative)
        if dest_relative is not None and dest_counts:
            _remember(tree, dest_relative, dest)
            self._record(state, dest, "moved" if "moved" in state.wanted else "created", now)
        pending = state.window is not None and src in state.window.changes
        if source_counts and (not dest_counts or "moved" not in state.wanted or pending):
            self._record(state, src, "deleted", now)

    def _record(
        self, state: _Key, path: str, kind: str, now: float, *, rescanned: bool = False
    ) -> None:
        """Add a change to ``state``'s open window (called with _cond held)."""
        window = state.window
        if window is not None and now >= window.due:
            self._close(state)
            window = None
        if window is None:
            window = state.window = _Window(first_event_at=now, due=now + state.debounce_s)
            self._cond.notify()  # the worker may be asleep past this window's end
        before = window.changes.get(path)
        if before is None or kind != "modified" or before not in ("created", "moved"):
            window.changes[path] = kind
        window.rescanned = window.rescanned or rescanned

    def _close(self, state: _Key) -> None:
        window, state.window = state.window, None
        if window is None:
            return
        changes = tuple(
            FileChange(path, kind)
            for path, kind in sorted(window.changes.items())
            if kind in state.wanted
        )
        if changes:
            batch = FileBatch(state.key, changes, window.first_event_at, window.rescanned)
            self._ready.append((state, batch))

    def _request(self, root: _Root, what: str) -> None:
        with self._cond:
            self._request_locked(root, what)

    def _request_locked(self, root: _Root, what: str) -> None:
        self._requests.setdefault((root.path, root.recursive), set()).add(what)
        self._cond.notify()

    # -- the worker thread -------------------------------------------------------

    def _run(self) -> None:
        next_check = time.monotonic() + self._recheck_s
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = time.monotonic()
                    for state in self._keys.values():
                        if state.window is not None and state.window.due <= now:
                            self._close(state)
                    if self._ready or self._requests or self._problems or now >= next_check:
                        break
                    self._cond.wait(self._sleep_time(now, next_check))
                ready, self._ready = self._ready, []
                requests, self._requests = self._requests, {}
                problems, self._problems = self._problems, []
            for state, batch in ready:
                if self._keys.get(state.key) is state:
                    self._call(self._on_batch, batch)
            for key, message in problems:
                self._tell(key, message)
            if requests or now >= next_check:
                try:
                    self._maintain(requests, now, checks_due=now >= next_check)
                except Exception:
                    logger.exception("file watch: maintenance failed")
                if now >= next_check:
                    next_check = now + self._recheck_s

    def _sleep_time(self, now: float, next_check: float) -> float:
        wake = next_check
        for state in self._keys.values():
            if state.window is not None:
                wake = min(wake, state.window.due)
        return max(0.0, wake - now)

    def _maintain(
        self, requests: dict[tuple[str, bool], set[str]], now: float, *, checks_due: bool
    ) -> None:
        with self._admin:
            if self._stopped:
                return
            for root_id, what in requests.items():
                root = self._roots.get(root_id)
                if root is None:
                    continue
                if "check" in what:
                    self._check(root, now)
                if "watch-limit" in what and root.mode == "inotify":
                    self._poll_instead(root, _subfolder_limit_message(root.path, self._recheck_s))
                    self._rescan_all(root)
                elif "overflow" in what and root.mode == "inotify":
                    message = _overflow_message(root.path)
                    with self._cond:
                        self._tell_locked(root.keys, message)
                    self._rescan_all(root)
            if checks_due:
                for root in list(self._roots.values()):
                    self._check(root, now)

    def _check(self, root: _Root, now: float) -> None:
        """Notice a folder that appeared, went or was replaced; poll one that needs it."""
        if root.mode == "missing":
            if now < root.next_try:
                return
            if self._activate(root):
                self._rescan_all(root)
            return
        if _identity(root.path) != root.identity:
            self._vanished(root)
            if self._activate(root):
                self._rescan_all(root)
        elif root.mode == "polling" and now >= root.next_poll:
            started = time.monotonic()
            self._rescan_all(root)
            spent = time.monotonic() - started
            root.next_poll = time.monotonic() + max(self._recheck_s, spent / _POLL_DUTY)

    def _vanished(self, root: _Root) -> None:
        """Report every file known under ``root`` as deleted and forget them."""
        self._deactivate(root)
        now = time.monotonic()
        with self._cond:
            for key in root.keys:
                state = self._keys[key]
                for path, _ in state.trees[root.path].items(root.prefix):
                    self._record(state, path, "deleted", now, rescanned=True)
                state.trees[root.path] = _Tree()

    def _rescan_all(self, root: _Root) -> None:
        for key in sorted(root.keys):
            self._rescan(self._keys[key], root, report=True)

    def _tell_locked(self, keys: Iterable[str], message: str) -> None:
        """Queue ``message`` for the worker to pass to on_problem (called with _cond held)."""
        self._problems.extend((key, message) for key in sorted(keys))
        self._cond.notify()

    def _tell(self, key: str, message: str) -> None:
        logger.warning("file watch %s: %s", key, message)
        if self._on_problem is not None:
            self._call(self._on_problem, key, message)

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            logger.exception("file watch: a callback failed")


def _remember(tree: _Tree, relative: str, path: str) -> None:
    """Put the file's current stat into ``tree``, or drop it if it is already gone."""
    try:
        st = os.lstat(path)
    except OSError:
        tree.pop(relative)
        return
    tree.put(relative, (st.st_mtime_ns, st.st_size, st.st_ino))


def _scan(root: str, recursive: bool, globs: GlobFilter) -> dict[str, _Stat]:
    """The matching files below ``root`` (symlinks count as files and are not followed)."""
    found: dict[str, _Stat] = {}
    pending = [("", root)]
    while pending:
        base, folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            if not base:
                raise  # the watched folder itself: the caller decides
            continue  # a subfolder that went away or cannot be read
        for entry in entries:
            relative = base + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append((relative + "/", entry.path))
                    continue
                if not globs.matches(relative):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone since it was listed
            found[relative] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return found


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _folder_problem(path: str) -> str | None:
    """Why ``path`` cannot be watched as a folder right now, or None."""
    try:
        st = Path(path).stat()
    except (FileNotFoundError, NotADirectoryError):
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder (to watch one file, watch its folder with include: [its name])"
    if not os.access(path, os.R_OK | os.X_OK):
        return "cannot be read (permission denied)"
    return None


def _unwatchable_message(path: str, reason: str | None) -> str:
    return (
        f"{path} cannot be watched ({reason or 'the system refused'}); it is tried again, "
        f"less often each time (at most every {_RETRY_CAP_S:g} s), and its files are "
        "reported as created once it can be watched. A folder whose subfolders come and go "
        "by themselves (such as /proc) cannot be watched with its subfolders"
    )


def _missing_message(path: str, problem: str | None, recheck_s: float) -> str:
    return (
        f"{path} {problem or 'is missing'}; it is checked every {recheck_s:g} s and "
        "watched again as soon as it is a readable folder (its files are then reported "
        "as created)"
    )


def _sysctl(name: str) -> str:
    try:
        return (SYSCTL / name).read_text().strip()
    except OSError:
        return "?"


def _limit_message(path: str, code: int, poll_s: float) -> str:
    setting = "max_user_watches" if code == errno.ENOSPC else "max_user_instances"
    what = "watches" if code == errno.ENOSPC else "inotify instances"
    suggested = "524288" if code == errno.ENOSPC else "1024"
    return (
        f"cannot watch {path} for changes: the system limit of {what} is reached "
        f"(fs.inotify.{setting} = {_sysctl(setting)}), so it is scanned for changes every "
        f"{poll_s:g} s instead (less often if scanning it takes long). To fix it, raise "
        f"the limit, e.g. 'sudo sysctl fs.inotify.{setting}={suggested}' (and put that "
        "setting in a file in /etc/sysctl.d/ to keep it), then restart ATOM Desktop or "
        "save the automation again"
    )


def _subfolder_limit_message(path: str, poll_s: float) -> str:
    return _limit_message(path, errno.ENOSPC, poll_s).replace(
        f"cannot watch {path} for changes:", f"cannot watch a new subfolder of {path}:", 1
    )


def _overflow_message(path: str) -> str:
    return (
        f"too many changes at once under {path}: the system dropped some change "
        "notifications, so the folder was scanned again (a file may be reported twice). "
        "If this happens often, raise fs.inotify.max_queued_events "
        f"(now {_sysctl('max_queued_events')})"
    )
