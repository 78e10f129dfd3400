"""Reading one stream of a run's stored output in pages, on a real SQLCipher database."""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest
from sqlalchemy import text

from atom_desktop.core.ids import IdFactory
from atom_desktop.core.output import Chunk
from atom_desktop.runner.output import now
from atom_desktop.store.database import Database
from atom_desktop.store.engine import CACHE_KIB
from atom_desktop.store.runs import RunRepository


def new_run(runs: RunRepository) -> str:
    run_id = IdFactory().new()
    runs.create(
        id=run_id, source="api", requester=None, argv=["x"], shell=None, cwd="/", env_names=[]
    )
    return run_id


def interleaved(count: int) -> list[Chunk]:
    """``count`` chunks of random sizes, two stdout for every stderr, each naming its seq."""
    chunks = []
    for seq in range(1, count + 1):
        stream = "stderr" if seq % 3 == 0 else "stdout"
        body = os.urandom(int.from_bytes(os.urandom(2)) % 3000)
        chunks.append(Chunk(seq, stream, now(), b"<%d>" % seq + body))
    return chunks


@pytest.fixture
def runs(db: Database) -> RunRepository:
    return RunRepository(db)


def test_pages_keep_the_order_hold_one_stream_and_stay_within_the_limit(
    runs: RunRepository,
) -> None:
    run_id = new_run(runs)
    other = new_run(runs)
    chunks = interleaved(500)
    runs.save_output(run_id, chunks, None, piece=37)
    runs.save_output(other, interleaved(40), None, piece=40)
    # A gap, as the cap leaves one: the middle was dropped.
    runs.drop_chunks(run_id, (100, 301), limit=1000)
    kept = [c for c in chunks if not 100 < c.seq < 301]

    for stream in ("stdout", "stderr"):
        pages = list(runs.stream_pages(run_id, stream, limit=7))
        assert pages, stream
        assert all(1 <= len(page) <= 7 for page in pages)
        assert all(len(page) == 7 for page in pages[:-1])  # only the last page is short
        got = [c for page in pages for c in page]
        wanted = [c for c in kept if c.stream == stream]
        assert [c.seq for c in got] == [c.seq for c in wanted]
        assert all(c.stream == stream for c in got)
        assert b"".join(c.data for c in got) == b"".join(c.data for c in wanted)
        assert runs.stored_bytes(run_id, stream) == sum(len(c.data) for c in wanted)
        # The same bytes as the whole-stream read.
        assert b"".join(c.data for c in got) == runs.output(run_id, stream)


def test_a_page_starts_after_the_seq_given(runs: RunRepository) -> None:
    run_id = new_run(runs)
    chunks = interleaved(60)
    runs.save_output(run_id, chunks, None, piece=60)
    page = runs.stream_page(run_id, "stdout", after=30, limit=5)
    assert [c.seq for c in page] == [31, 32, 34, 35, 37]
    assert [c.data for c in page] == [chunks[s - 1].data for s in (31, 32, 34, 35, 37)]
    assert runs.stream_page(run_id, "stdout", after=60) == []


def test_no_output_is_no_pages_and_no_bytes(runs: RunRepository) -> None:
    run_id = new_run(runs)
    assert list(runs.stream_pages(run_id, "stdout")) == []
    assert runs.stored_bytes(run_id, "stdout") == 0
    assert runs.stored_bytes("no-such-run", "stderr") == 0


def test_reading_pages_leaves_the_connections_page_cache_as_it_was(
    runs: RunRepository, db: Database
) -> None:
    def cache_sizes() -> set[int]:
        # Every pooled reader connection is checked out at once, so each is seen.
        with ExitStack() as stack:
            sessions = [stack.enter_context(db.read()) for _ in range(4)]
            return {int(s.execute(text("PRAGMA cache_size")).scalar_one()) for s in sessions}

    before = cache_sizes()
    run_id = new_run(runs)
    runs.save_output(run_id, interleaved(50), None, piece=50)
    assert sum(len(p) for p in runs.stream_pages(run_id, "stdout", limit=3)) > 0
    assert cache_sizes() == before
    assert before == {-CACHE_KIB}


@pytest.mark.parametrize("size", [0, 1, 100, 2999, 20_000, 10**7])
def test_the_tail_is_the_last_bytes_of_one_stream(runs: RunRepository, size: int) -> None:
    run_id = new_run(runs)
    chunks = interleaved(300)
    runs.save_output(run_id, chunks, None, piece=50)
    for stream in ("stdout", "stderr"):
        whole = b"".join(c.data for c in chunks if c.stream == stream)
        assert runs.tail(run_id, stream, size) == (whole[-size:] if size else b"")


def test_the_tail_of_a_run_without_output_is_empty(runs: RunRepository) -> None:
    assert runs.tail(new_run(runs), "stdout", 4096) == b""
