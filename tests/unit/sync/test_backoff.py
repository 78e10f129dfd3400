"""The retry delay of the sync service: doubling, capped, jittered."""

from __future__ import annotations

from atom_desktop.sync.service import backoff_delay


def test_the_delay_doubles_up_to_the_cap() -> None:
    full = [backoff_delay(n, 1.0, 60.0, jitter=lambda: 0.999999) for n in range(1, 10)]
    assert [round(d) for d in full] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert backoff_delay(10_000, 1.0, 60.0, jitter=lambda: 0.999999) <= 60.0


def test_jitter_takes_up_to_half_off() -> None:
    assert backoff_delay(3, 1.0, 60.0, jitter=lambda: 0.0) == 2.0
    delays = {backoff_delay(7, 1.0, 60.0) for _ in range(200)}
    assert all(30.0 <= d < 60.0 for d in delays)
    assert len(delays) > 100  # spread, not one moment for every device
