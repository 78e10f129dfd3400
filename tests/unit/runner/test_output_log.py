"""The stored log of a run's output: head, tail, and what is written when."""

from __future__ import annotations

from atom_desktop.core.output import Chunk
from atom_desktop.runner.output import OutputLog, now


def chunks(first: int, count: int, size: int) -> list[Chunk]:
    return [
        Chunk(seq, "stdout", now(), bytes([seq % 256]) * size)
        for seq in range(first, first + count)
    ]


def test_under_the_cap_everything_is_kept_and_written_once() -> None:
    log = OutputLog(cap=100)
    for chunk in chunks(1, 5, 10):
        log.add(chunk)
    batch, drop = log.take_batch()
    assert [c.seq for c in batch] == [1, 2, 3, 4, 5]
    assert drop is None
    log.saved(batch)
    assert log.take_batch() == ([], None)
    assert not log.dropping


def test_over_the_cap_head_and_tail_are_kept_and_the_middle_counted() -> None:
    log = OutputLog(cap=100)  # 50 bytes of head, 50 of tail
    for chunk in chunks(1, 20, 10):
        log.add(chunk)
    batch, drop = log.take_batch()
    assert [c.seq for c in batch] == [1, 2, 3, 4, 5, 16, 17, 18, 19, 20]
    assert drop == (5, 16)  # stored seqs strictly between are deleted
    assert log.dropped_bytes == 100
    assert log.dropping


def test_a_head_only_batch_leaves_the_churning_tail_for_later() -> None:
    log = OutputLog(cap=100)
    for chunk in chunks(1, 8, 10):
        log.add(chunk)
    head, _ = log.take_batch(include_tail=False)
    assert [c.seq for c in head] == [1, 2, 3, 4, 5]
    log.saved(head)
    # The tail was not written, so it is still unsaved: viewers and the next
    # full save see it.
    assert [c.seq for c in log.unsaved()] == [6, 7, 8]
    for chunk in chunks(9, 10, 10):
        log.add(chunk)
    batch, drop = log.take_batch()
    assert [c.seq for c in batch] == [14, 15, 16, 17, 18]
    assert drop == (5, 14)
    log.saved(batch)
    assert log.unsaved() == []


def seqs(found: list[Chunk] | None) -> list[int] | None:
    return None if found is None else [c.seq for c in found]


def test_memory_serves_a_catching_up_viewer_until_it_needs_the_saved_head() -> None:
    log = OutputLog(cap=100)  # 50 bytes of head, 50 of tail
    for chunk in chunks(1, 3, 10):
        log.add(chunk)
    assert seqs(log.from_memory(0, limit=64)) == [1, 2, 3]  # nothing saved yet
    assert seqs(log.from_memory(1, limit=1)) == [2]
    batch, _ = log.take_batch()
    log.saved(batch)
    assert log.from_memory(0, limit=64) is None  # only the store has 1..3 now
    assert seqs(log.from_memory(3, limit=64)) == []  # and nothing comes after them
    for chunk in chunks(4, 2, 10):
        log.add(chunk)
    # 4 and 5 are unsaved: a viewer at 3 reads them from memory, one at 2 must
    # go to the store for 3 first.
    assert seqs(log.from_memory(3, limit=64)) == [4, 5]
    assert log.from_memory(2, limit=64) is None


def test_past_the_head_memory_has_the_whole_tail_saved_or_not() -> None:
    log = OutputLog(cap=100)
    for chunk in chunks(1, 20, 10):
        log.add(chunk)  # head 1..5, 6..15 dropped, tail 16..20
    batch, _ = log.take_batch()
    log.saved(batch)
    assert log.from_memory(4, limit=64) is None
    # Right after the head comes the gap the viewer reports as dropped.
    assert seqs(log.from_memory(5, limit=64)) == [16, 17, 18, 19, 20]
    assert seqs(log.from_memory(9, limit=2)) == [16, 17]
    assert seqs(log.from_memory(17, limit=64)) == [18, 19, 20]
    assert seqs(log.from_memory(20, limit=64)) == []


def test_saved_tail_chunks_beyond_the_memory_allowance_are_left_to_the_store() -> None:
    log = OutputLog(cap=100, tail_memory=20)
    for chunk in chunks(1, 12, 10):
        log.add(chunk)  # head 1..5, 6 and 7 dropped, tail 8..12
    # Nothing is saved yet, so all of it is in memory, whatever the allowance.
    assert log.unsaved_bytes == 100
    assert seqs(log.from_memory(5, limit=64)) == [8, 9, 10, 11, 12]
    batch, drop = log.take_batch()
    assert drop == (5, 8)
    log.saved(batch)
    assert log.unsaved_bytes == 0
    # Saved: only the newest 20 bytes of the tail stay in memory.
    assert log.from_memory(5, limit=64) is None
    assert log.from_memory(9, limit=64) is None
    assert seqs(log.from_memory(10, limit=64)) == [11, 12]
    log.add(chunks(13, 1, 10)[0])  # drops 8, which only the store had
    assert log.unsaved_bytes == 10
    assert log.take_batch()[1] == (5, 9)
    # 13 is unsaved, so the saved 11 makes room for it.
    assert log.from_memory(10, limit=64) is None
    assert seqs(log.from_memory(11, limit=64)) == [12, 13]


def test_unsaved_bytes_count_what_only_memory_has() -> None:
    log = OutputLog(cap=1000)
    for chunk in chunks(1, 3, 100):
        log.add(chunk)
    assert log.unsaved_bytes == 300
    head, _ = log.take_batch(include_tail=False)
    log.add(chunks(4, 1, 100)[0])  # arrives while the batch is being written
    log.saved(head)
    assert log.unsaved_bytes == 100
    assert [c.seq for c in log.unsaved()] == [4]
