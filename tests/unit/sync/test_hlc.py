"""HLC stamps as the server stores them: one bigint that orders as the clock does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atom_desktop.sync import hlc

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
