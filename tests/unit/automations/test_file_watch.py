"""File triggers: real files, real inotify, debounced batches that miss nothing."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import queue
import shutil
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from watchdog.observers import inotify_c
from watchdog.observers.inotify import InotifyEmitter

from atom_desktop.automations.file_watch import (
    FileBatch,
    FileChange,
    FileWatcher,
)
from atom_desktop.automations.globs import GlobFilter, check_globs
from atom_desktop.automations.inotify_watch import QueueOverflowed, _Inotify
from atom_desktop.automations.triggers import FileTrigger, TriggerError

DEBOUNCE = 0.2
WAIT = 10.0
# Float rounding only: a batch is never delivered before its window has passed.
EPSILON = 0.01


class Recorder:
    """Collects what the watcher reports, for the test thread to wait on."""

    def __init__(self) -> None:
        self.batches: queue.Queue[tuple[float, FileBatch]] = queue.Queue()
        self.problems: queue.Queue[tuple[str, str]] = queue.Queue()

    def on_batch(self, batch: FileBatch) -> None:
        self.batches.put((time.monotonic(), batch))

    def on_problem(self, key: str, message: str) -> None:
        self.problems.put((key, message))

    def batch(self, timeout: float = WAIT) -> tuple[float, FileBatch]:
        try:
            return self.batches.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no batch within {timeout} s")

    def problem(self, timeout: float = WAIT) -> tuple[str, str]:
        try:
            return self.problems.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no problem reported within {timeout} s")

    def until(self, path: Path, timeout: float = WAIT) -> list[FileBatch]:
        """Every batch up to and including the first that lists ``path``."""
        batches: list[FileBatch] = []
        while not batches or str(path) not in batches[-1].paths:
            batches.append(self.batch(timeout)[1])
        return batches


def changes_of(batches: list[FileBatch]) -> dict[str, str]:
    return {change.path: change.kind for batch in batches for change in batch.changes}


def trigger(*paths: Path, **fields: object) -> FileTrigger:
    spec: dict[str, object] = {"type": "file", "paths": [str(p) for p in paths]}
    spec["debounce_s"] = DEBOUNCE
    spec.update(fields)
    return FileTrigger.model_validate(spec)


def touch_new(path: Path) -> None:
    """Create an empty file: exactly one inotify event (IN_CREATE)."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL))


CREATE_FILES = """
import os, sys
for name in sys.argv[2:]:
    os.close(os.open(os.path.join(sys.argv[1], name), os.O_CREAT | os.O_WRONLY | os.O_EXCL))
"""


def create_files(folder: Path, names: list[str]) -> None:
    """Create empty files (one event each) as a burst from another process.

    From this process the burst would be paced by the GIL, which the
    watcher's threads are busy with, rather than by the file system.
    """
    subprocess.run([sys.executable, "-c", CREATE_FILES, str(folder), *names], check=True)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def watcher(recorder: Recorder) -> Iterator[FileWatcher]:
    result = FileWatcher(
        recorder.on_batch,
        default_debounce_s=DEBOUNCE,
        on_problem=recorder.on_problem,
        recheck_missing_s=0.1,
    )
    result.start()
    try:
        yield result
    finally:
        result.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    result = tmp_path / "watched"
    result.mkdir()
    return result


# -- debounce --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["created", "modified", "deleted"])
def test_a_change_is_reported_once_its_window_has_passed(
    watcher: FileWatcher, recorder: Recorder, folder: Path, kind: str
) -> None:
    target = folder / "report.txt"
    if kind != "created":
        target.write_text("old")
    watcher.watch("k", trigger(folder))
    change: dict[str, Callable[[], object]] = {
        "created": lambda: target.write_text("new"),
        "modified": lambda: target.write_text("newer"),
        "deleted": target.unlink,
    }

    changed_at = time.monotonic()
    change[kind]()
    arrived, batch = recorder.batch()

    assert arrived - changed_at >= DEBOUNCE - EPSILON
    assert changed_at <= batch.first_event_at <= arrived - DEBOUNCE + EPSILON
    assert batch == FileBatch("k", (FileChange(str(target), kind),), batch.first_event_at, False)
    assert batch.paths == (str(target),)


def test_created_then_deleted_in_one_window_is_reported_as_deleted(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    watcher.watch("k", trigger(folder))
    (folder / "brief.tmp").write_text("x")
    (folder / "kept.txt").write_text("x")
    (folder / "brief.tmp").unlink()

    _, batch = recorder.batch()

    assert batch.changes == (
        FileChange(str(folder / "brief.tmp"), "deleted"),
        FileChange(str(folder / "kept.txt"), "created"),
    )


def test_a_burst_of_10000_files_comes_as_one_batch_per_window(
    recorder: Recorder, folder: Path
) -> None:
    watcher = FileWatcher(recorder.on_batch, default_debounce_s=0.5, recheck_missing_s=0.5)
    watcher.start()
    try:
        watcher.watch("burst", trigger(folder, debounce_s=0.5))
        threads = threading.active_count()
        names = [f"file-{i:05}" for i in range(10_000)]
        create_files(folder, names)
        assert threading.active_count() == threads, "a thread per event"

        batches: list[FileBatch] = []
        seen: set[str] = set()
        while len(seen) < len(names):
            batch = recorder.batch(timeout=30)[1]
            batches.append(batch)
            seen.update(batch.paths)
    finally:
        watcher.stop()

    assert seen == {str(folder / name) for name in names}
    assert sum(len(batch.changes) for batch in batches) == len(names), "a path reported twice"
    assert {change.kind for batch in batches for change in batch.changes} == {"created"}
    for earlier, later in pairwise(batches):
        assert later.first_event_at >= earlier.first_event_at + 0.5 - EPSILON


# -- filters ---------------------------------------------------------------------


def test_include_and_exclude_globs(watcher: FileWatcher, recorder: Recorder, folder: Path) -> None:
    watcher.watch(
        "k",
        trigger(
            folder,
            include=["*.txt", "reports/**/*.csv"],
            exclude=["secret*", "reports/tmp/**"],
        ),
    )
    wanted = ["a.txt", "deep/down/b.txt", "reports/x.csv", "reports/2024/q1/y.csv"]
    unwanted = [
        "c.log",
        "secret.txt",
        "reports/tmp/z.csv",
        "other/reports/w.csv",
        "x.csv",
        "zzz-last.log",
    ]
    for relative in [*unwanted, *wanted]:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (folder / "zzz-last.txt").write_text("x")

    batches = recorder.until(folder / "zzz-last.txt")

    expected = {str(folder / relative): "created" for relative in [*wanted, "zzz-last.txt"]}
    assert changes_of(batches) == expected


def test_only_the_kinds_asked_for_are_reported(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    for name in ("modified.txt", "deleted.txt", "last.txt"):
        (folder / name).write_text("old")
    watcher.watch("k", trigger(folder, events=["deleted"]))
    (folder / "created.txt").write_text("new")
    (folder / "modified.txt").write_text("new")
    (folder / "deleted.txt").unlink()
    (folder / "last.txt").unlink()

    batches = recorder.until(folder / "last.txt")

    assert changes_of(batches) == {
        str(folder / "deleted.txt"): "deleted",
        str(folder / "last.txt"): "deleted",
    }


@pytest.mark.parametrize(
    ("source", "destination", "fields", "expected"),
    [
        ("a.txt", "b.txt", {}, {"b.txt": "moved"}),
        (
            "a.txt",
            "b.txt",
            {"events": ["created", "deleted"]},
            {"a.txt": "deleted", "b.txt": "created"},
        ),
        ("a.part", "a.txt", {"include": ["*.txt"]}, {"a.txt": "moved"}),
        ("a.txt", "a.bak", {"include": ["*.txt"]}, {"a.txt": "deleted"}),
        ("sub", "renamed", {}, {"renamed/a.txt": "moved", "renamed/deeper/b.txt": "moved"}),
    ],
    ids=["rename", "kind-not-wanted", "into-the-globs", "out-of-the-globs", "folder"],
)
def test_moves_inside_the_watch(
    watcher: FileWatcher,
    recorder: Recorder,
    folder: Path,
    source: str,
    destination: str,
    fields: dict[str, object],
    expected: dict[str, str],
) -> None:
    if source == "sub":
        (folder / "sub" / "deeper").mkdir(parents=True)
        (folder / "sub" / "a.txt").write_text("x")
        (folder / "sub" / "deeper" / "b.txt").write_text("x")
    else:
        (folder / source).write_text("x")
    watcher.watch("k", trigger(folder, **fields))

    (folder / source).rename(folder / destination)
    _, batch = recorder.batch()

    assert changes_of([batch]) == {str(folder / p): kind for p, kind in expected.items()}


def test_a_folder_moved_out_reports_the_files_known_in_it(
    watcher: FileWatcher, recorder: Recorder, folder: Path, tmp_path: Path
) -> None:
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("x")
    (folder / "sub" / "deeper" / "b.txt").write_text("x")
    (folder / "stays.txt").write_text("x")
    watcher.watch("k", trigger(folder))

    (folder / "sub").rename(tmp_path / "elsewhere")
    _, batch = recorder.batch()

    assert batch.changes == (
        FileChange(str(folder / "sub" / "a.txt"), "deleted"),
        FileChange(str(folder / "sub" / "deeper" / "b.txt"), "deleted"),
    )


def test_a_folder_moved_in_is_reported_and_then_watched(
    watcher: FileWatcher, recorder: Recorder, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "x"
    (outside / "y").mkdir(parents=True)
    (outside / "y" / "one.txt").write_text("x")
    watcher.watch("k", trigger(folder))

    outside.rename(folder / "x")
    assert changes_of(recorder.until(folder / "x" / "y" / "one.txt")) == {
        str(folder / "x" / "y" / "one.txt"): "created"
    }
    # watchdog 6 adds no watches for a folder moved in; without ours this is never seen.
    (folder / "x" / "y" / "two.txt").write_text("x")
    _, batch = recorder.batch()
    assert batch.changes == (FileChange(str(folder / "x" / "y" / "two.txt"), "created"),)


def test_not_recursive_ignores_subfolders(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    (folder / "sub").mkdir()
    watcher.watch("k", trigger(folder, recursive=False))
    (folder / "sub" / "inner.txt").write_text("x")
    (folder / "sub" / "nested").mkdir()
    (folder / "sub" / "nested" / "deeper.txt").write_text("x")
    (folder / "top.txt").write_text("x")

    batches = recorder.until(folder / "top.txt")

    assert changes_of(batches) == {str(folder / "top.txt"): "created"}


# -- watches come and go -----------------------------------------------------------


def test_unwatch_and_replace_leave_other_keys_alone(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    # "fast" would report first if it were still watched: it has the shorter window.
    watcher.watch("fast", trigger(folder, debounce_s=0.05))
    watcher.watch("slow", trigger(folder, debounce_s=0.3, include=["*.txt"]))
    watcher.watch("slow", trigger(folder, debounce_s=0.3, include=["*.csv"]))
    watcher.unwatch("fast")
    watcher.unwatch("unknown")

    (folder / "a.txt").write_text("x")
    (folder / "b.csv").write_text("x")
    _, batch = recorder.batch()

    assert batch.key == "slow"
    assert batch.paths == (str(folder / "b.csv"),)


def test_a_watch_added_before_start_begins_at_start(recorder: Recorder, folder: Path) -> None:
    (folder / "old.txt").write_text("x")
    watcher = FileWatcher(recorder.on_batch, default_debounce_s=DEBOUNCE)
    watcher.watch("k", trigger(folder))
    watcher.start()
    try:
        (folder / "new.txt").write_text("x")
        _, batch = recorder.batch()
    finally:
        watcher.stop()

    assert batch.changes == (FileChange(str(folder / "new.txt"), "created"),)


def test_stop_joins_every_thread(recorder: Recorder, folder: Path, tmp_path: Path) -> None:
    before = set(threading.enumerate())
    watcher = FileWatcher(recorder.on_batch, recheck_missing_s=0.1)
    watcher.watch("a", trigger(folder))
    watcher.watch("b", trigger(folder, tmp_path / "missing"))
    watcher.start()
    assert len(set(threading.enumerate()) - before) >= 3  # worker, observer, emitter, reader

    watcher.stop()

    assert set(threading.enumerate()) == before
    watcher.stop()  # a second stop is harmless
    with pytest.raises(RuntimeError):
        watcher.start()


def test_a_watcher_never_started_stops_cleanly(recorder: Recorder, folder: Path) -> None:
    watcher = FileWatcher(recorder.on_batch)
    watcher.watch("k", trigger(folder))
    watcher.stop()


def test_bad_globs_are_refused_by_watch(watcher: FileWatcher, folder: Path) -> None:
    with pytest.raises(TriggerError) as caught:
        watcher.watch("k", trigger(folder, include=["ok.txt", "[oops"]))
    assert caught.value.field == "include[1]"


# -- missing folders ---------------------------------------------------------------


def test_a_folder_that_appears_later_is_picked_up(
    watcher: FileWatcher, recorder: Recorder, tmp_path: Path
) -> None:
    later = tmp_path / "later"
    watcher.watch("k", trigger(later))
    key, message = recorder.problem()
    assert key == "k"
    assert str(later) in message
    assert "does not exist" in message

    # Made elsewhere and moved into place, so only a rescan can find its file.
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "a.txt").write_text("x")
    prepared.rename(later)
    _, batch = recorder.batch()

    assert batch.changes == (FileChange(str(later / "a.txt"), "created"),)
    assert batch.rescanned
    assert recorder.problems.empty(), "the missing folder was reported more than once"
    # Watched by inotify again, not polled: a new file comes as an event.
    (later / "b.txt").write_text("x")
    _, batch = recorder.batch()
    assert batch.changes == (FileChange(str(later / "b.txt"), "created"),)
    assert not batch.rescanned


def test_a_folder_deleted_and_made_again_is_picked_up(
    watcher: FileWatcher, recorder: Recorder, folder: Path, tmp_path: Path
) -> None:
    (folder / "sub").mkdir()
    (folder / "sub" / "a.txt").write_text("x")
    watcher.watch("k", trigger(folder))

    shutil.rmtree(folder)
    _, gone = recorder.batch()
    _, message = recorder.problem()

    assert gone.changes == (FileChange(str(folder / "sub" / "a.txt"), "deleted"),)
    assert "does not exist" in message
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "b.txt").write_text("x")
    prepared.rename(folder)
    _, back = recorder.batch()
    assert back.changes == (FileChange(str(folder / "b.txt"), "created"),)
    assert back.rescanned
    assert recorder.problems.empty()


def test_a_folder_replaced_between_checks_reports_both_sides(
    watcher: FileWatcher, recorder: Recorder, folder: Path, tmp_path: Path
) -> None:
    (folder / "old.txt").write_text("x")
    watcher.watch("k", trigger(folder))
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "new.txt").write_text("x")

    # A rename over the folder: no event for the watched folder itself.
    folder.rename(tmp_path / "retired")
    prepared.rename(folder)
    batches = recorder.until(folder / "new.txt")

    assert changes_of(batches) == {
        str(folder / "old.txt"): "deleted",
        str(folder / "new.txt"): "created",
    }


# -- overflow and limits -----------------------------------------------------------


def reader_of(watcher: FileWatcher, folder: Path) -> _Inotify:
    """The inotify reader behind ``folder``'s watch (white-box: for stalling it)."""
    for emitter in watcher._observer.emitters:
        if emitter.watch.path == str(folder):
            assert isinstance(emitter, InotifyEmitter)
            buffer = emitter._inotify
            assert buffer is not None
            reader = buffer._inotify
            assert isinstance(reader, _Inotify)
            return reader
    raise AssertionError(f"no emitter for {folder}")


def queued_bytes(descriptor: int) -> int:
    size = ctypes.c_int()
    fcntl.ioctl(descriptor, termios.FIONREAD, size)
    return size.value


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def parked(reader: _Inotify, folder: Path) -> Iterator[None]:
    """Keep the reader from reading the kernel queue until the block ends.

    watchdog's reader takes its lock, polls and reads without it, then takes
    it again. Holding the lock stops it, but if it is between the two it
    reads once more: a fresh event (one, from an empty new file) makes it do
    that read now. ``_is_reading`` says which side it is on only once it has
    been round its loop, which the first wake-up makes sure of.
    """

    def wake_up(name: str) -> None:
        touch_new(folder / name)
        wait_for(lambda: queued_bytes(reader.fd) == 0, "the reader to read the wake-up event")

    wake_up("wake-up-1")
    with reader._lock:
        if reader._is_reading:
            wake_up("wake-up-2")
        yield


def test_lost_events_are_found_by_the_rescan_after_an_overflow(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    watcher.watch("k", trigger(folder, include=["*.txt"]))
    reader = reader_of(watcher, folder)
    lost = [folder / f"lost-{i}.txt" for i in range(5)]
    with parked(reader, folder):
        for path in lost:
            path.write_text("x")
        # Take the events off the kernel queue, as an overflow would have dropped them.
        while queued_bytes(reader.fd):
            os.read(reader.fd, 1 << 16)
        # What the reader does when it finds the queue overflowed.
        reader._signal(QueueOverflowed)

    key, message = recorder.problem()
    batches = recorder.until(lost[-1])

    assert key == "k"
    assert "too many changes" in message
    assert "max_queued_events" in message
    assert changes_of(batches) == {str(path): "created" for path in lost}
    assert batches[-1].rescanned


def _queue_limit() -> int:
    return int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())


def test_a_real_queue_overflow_loses_nothing(
    watcher: FileWatcher, recorder: Recorder, folder: Path
) -> None:
    for name in ("a", "b"):
        (folder / name).write_text("x")
    watcher.watch("k", trigger(folder, exclude=["wake-up-*"]))
    reader = reader_of(watcher, folder)
    lost = [f"lost-{i}" for i in range(5)]
    with parked(reader, folder):
        # Touching two files in turn queues one event each time (the kernel
        # only merges an event with the one just before it identical to it):
        # the queue fills up, and the creations after that are dropped.
        subprocess.run(
            [sys.executable, "-c", OVERFLOW, str(folder), str(_queue_limit() + 100), *lost],
            check=True,
        )

    _, message = recorder.problem()
    batches = recorder.until(folder / lost[-1])

    assert "too many changes" in message
    assert changes_of(batches) == {
        str(folder / "a"): "modified",
        str(folder / "b"): "modified",
        **{str(folder / name): "created" for name in lost},
    }
    assert batches[-1].rescanned


OVERFLOW = """
import os, sys
folder, count, lost = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for i in range(count):
    os.utime(os.path.join(folder, "ab"[i % 2]))
for name in lost:
    os.close(os.open(os.path.join(folder, name), os.O_CREAT | os.O_WRONLY | os.O_EXCL))
"""


def inotify_descriptors() -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for entry in fds.iterdir():
        try:
            count += str(entry.readlink()) == "anon_inode:inotify"
        except OSError:
            continue
    return count


def test_the_watch_limit_falls_back_to_polling(
    watcher: FileWatcher, recorder: Recorder, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(descriptor: int, path: bytes, mask: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    descriptors = inotify_descriptors()
    monkeypatch.setattr(inotify_c, "inotify_add_watch", refuse)
    watcher.watch("k", trigger(folder))
    key, message = recorder.problem()

    assert key == "k"
    assert "fs.inotify.max_user_watches" in message
    assert "sysctl" in message
    assert inotify_descriptors() == descriptors, "the failed inotify instance was not closed"
    (folder / "polled.txt").write_text("x")
    _, batch = recorder.batch()
    assert batch.changes == (FileChange(str(folder / "polled.txt"), "created"),)
    assert batch.rescanned


def test_the_watch_limit_for_a_new_subfolder_falls_back_to_polling(
    watcher: FileWatcher, recorder: Recorder, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_add_watch = inotify_c.inotify_add_watch

    def refuse_deep(descriptor: int, path: bytes, mask: int) -> int:
        if b"deep" in path:
            ctypes.set_errno(errno.ENOSPC)
            return -1
        return int(real_add_watch(descriptor, path, mask))

    watcher.watch("k", trigger(folder))
    monkeypatch.setattr(inotify_c, "inotify_add_watch", refuse_deep)
    (folder / "deep").mkdir()
    _, message = recorder.problem()
    (folder / "deep" / "inside.txt").write_text("x")

    assert "new subfolder" in message
    assert "max_user_watches" in message
    batches = recorder.until(folder / "deep" / "inside.txt")
    assert changes_of(batches) == {str(folder / "deep" / "inside.txt"): "created"}


# -- globs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "relative", "matches"),
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "deep/down/a.txt", True),
        ("*.txt", "a.txt.bak", False),
        ("*", ".hidden", True),
        ("?.txt", "ab.txt", False),
        ("[!.]*", ".hidden", False),
        ("[]x]", "]", True),
        ("[a-c]1", "b1", True),
        ("[*]", "*", True),
        ("[*]", "a", False),
        ("**", "any/thing", True),
        ("reports/*.csv", "reports/a.csv", True),
        ("reports/*.csv", "reports/2024/a.csv", False),
        ("reports/*.csv", "old/reports/a.csv", False),
        ("reports/**/*.csv", "reports/a.csv", True),
        ("reports/**/*.csv", "reports/2024/q1/a.csv", True),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "x/y/a.csv", True),
        ("a/**", "a/b", True),
        ("a/**", "a/b/c", True),
        ("a/**", "ab/c", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/*/b", "a/x/y/b", False),
        ("README.md", "docs/README.md", True),
        ("Readme.md", "README.md", False),
    ],
)
def test_glob_matching(glob: str, relative: str, matches: bool) -> None:
    assert GlobFilter([glob], []).matches(relative) is matches


def test_excludes_win_and_no_includes_means_everything() -> None:
    globs = GlobFilter([], ["*.tmp", "build/**"])
    assert globs.matches("src/a.py")
    assert not globs.matches("a.tmp")
    assert not globs.matches("build/x/y.py")
    assert not GlobFilter(["*.py"], ["test_*"]).matches("tests/test_a.py")


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"include": ["[abc"]}, "include[0]", "unclosed '['"),
        ({"include": ["ok", "a\0b"]}, "include[1]", "NUL"),
        ({"exclude": ["/abs/*.txt"]}, "exclude[0]", "absolute"),
        ({"include": ["a**b"]}, "include[0]", "whole path segment"),
        ({"include": ["x/a**/b"]}, "include[0]", "whole path segment"),
        ({"include": ["build/"]}, "include[0]", "build/**"),
        ({"include": ["a//b"]}, "include[0]", "empty folder name"),
        ({"include": ["../x"]}, "include[0]", "'..'"),
        ({"include": ["[z-a]"]}, "include[0]", "backwards range"),
        ({"include": ["a\\b"]}, "include[0]", "'/'"),
        ({"paths": ["relative/folder"]}, "paths[0]", "relative"),
        ({"paths": ["/ok", "~nobody-such-user/x"]}, "paths[1]", "relative"),
    ],
)
def test_check_globs_names_the_bad_field(fields: dict[str, object], field: str, says: str) -> None:
    spec: dict[str, object] = {"type": "file", "paths": ["/data"], **fields}
    with pytest.raises(TriggerError) as caught:
        check_globs(FileTrigger.model_validate(spec))
    assert caught.value.field == field
    assert says in str(caught.value)


def test_check_globs_accepts_good_ones() -> None:
    check_globs(
        FileTrigger.model_validate(
            {
                "type": "file",
                "paths": ["~/Downloads", "/srv/data"],
                "include": ["*.pdf", "**/*.csv", "reports/**", "[!.]*", "[]]x", "**"],
                "exclude": ["*~", "a/**/b"],
            }
        )
    )


def test_a_folder_that_cannot_be_watched_is_reported_once_and_tried_less_often(
    watcher: FileWatcher, recorder: Recorder, tmp_path: Path
) -> None:
    # /proc is a folder, but a watch with its subfolders always fails: its
    # process folders come and go while they are being added (ENOENT).
    watcher.watch("proc", trigger(Path("/proc"), recursive=True))
    key, message = recorder.problem()
    assert key == "proc"
    assert message.startswith("/proc cannot be watched (No such file or directory)")
    assert "less often" in message
    # Each folder below appears after the watch began, so each is only found
    # by a later round of checks: /proc had as many chances to be told again.
    for round_ in range(5):
        later = tmp_path / f"later-{round_}"
        watcher.watch(f"later-{round_}", trigger(later))
        assert recorder.problem()[0] == f"later-{round_}"
        prepared = tmp_path / f"prepared-{round_}"
        prepared.mkdir()
        (prepared / "a.txt").write_text("x")
        prepared.rename(later)
        _, batch = recorder.batch()
        assert batch.changes == (FileChange(str(later / "a.txt"), "created"),)
    assert recorder.problems.empty(), "/proc was reported more than once"
