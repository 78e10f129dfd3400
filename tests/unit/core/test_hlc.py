"""HLC stamps as the server stores them: one bigint that orders as the clock does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atom_desktop.core import hlc

_physical = st.integers(0, hlc.PHYSICAL_MAX_MS)
_counter = st.integers(0, hlc.COUNTER_MAX)


@given(_physical, _counter)
def test_a_stamp_unpacks_to_what_was_packed(physical: int, counter: int) -> None:
    stamp = hlc.pack(physical, counter)
    assert 0 <= stamp < 1 << 63  # fits PostgreSQL's bigint
    assert hlc.unpack(stamp) == (physical, counter)


@given(_physical, _counter, _physical, _counter)
def test_stamps_order_as_their_clocks(p1: int, c1: int, p2: int, c2: int) -> None:
    assert (hlc.pack(p1, c1) < hlc.pack(p2, c2)) == ((p1, c1) < (p2, c2))


@pytest.mark.parametrize(
    ("physical", "counter"), [(-1, 0), (hlc.PHYSICAL_MAX_MS + 1, 0), (0, -1), (0, 1 << 16)]
)
def test_out_of_range_parts_are_refused(physical: int, counter: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        hlc.pack(physical, counter)


def test_the_clock_counts_on_when_the_wall_clock_stands_still_or_goes_back() -> None:
    walls = iter([1000, 1000, 900, 1001])
    clock = hlc.HybridClock(wall=lambda: next(walls))
    stamps = [clock.now() for _ in range(4)]
    assert [hlc.unpack(s) for s in stamps] == [(1000, 0), (1000, 1), (1000, 2), (1001, 0)]


def test_a_received_stamp_puts_the_next_one_after_it() -> None:
    clock = hlc.HybridClock(wall=lambda: 1000)
    remote = hlc.pack(5000, 7)  # a device whose clock runs ahead
    clock.observe(remote)
    assert clock.last == remote
    assert clock.now() == hlc.pack(5000, 8)
    clock.observe(hlc.pack(10, 0))  # an older one changes nothing
    assert clock.now() == hlc.pack(5000, 9)


def test_a_spent_counter_borrows_the_next_millisecond() -> None:
    clock = hlc.HybridClock(hlc.pack(1000, hlc.COUNTER_MAX), wall=lambda: 1000)
    assert clock.now() == hlc.pack(1001, 0)


@given(st.lists(st.integers(0, 2000), min_size=1, max_size=50))
def test_stamps_only_grow_whatever_the_wall_clock_does(walls: list[int]) -> None:
    it = iter(walls)
    clock = hlc.HybridClock(wall=lambda: next(it))
    stamps = [clock.now() for _ in walls]
    assert stamps == sorted(set(stamps))
