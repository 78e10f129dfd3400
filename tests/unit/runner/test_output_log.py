"""The stored log of a run's output: head, tail, and what is written when."""

from __future__ import annotations

from atom_desktop.runner.output import OutputLog, now
from atom_desktop.store.runs import Chunk


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
