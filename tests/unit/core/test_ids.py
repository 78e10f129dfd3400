from __future__ import annotations

import threading
import uuid

from atom_desktop.core.ids import IdFactory


def test_ids_are_uuid7_and_strictly_increasing() -> None:
    factory = IdFactory()
    ids = [factory.new() for _ in range(20_000)]  # many per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_ids_from_threads_are_unique() -> None:
    factory = IdFactory()
    out: list[list[str]] = [[] for _ in range(4)]

    def make(bucket: list[str]) -> None:
        bucket.extend(factory.new() for _ in range(2000))

    threads = [threading.Thread(target=make, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for bucket in out for i in bucket]
    assert len(set(everything)) == 8000
    for bucket in out:
        assert bucket == sorted(bucket)
