"""The alerts' rate rule: once per problem per window, a few per kind, held ones counted."""

from __future__ import annotations

from atom_desktop.diagnostics.alert_limit import AlertLimit


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_repeat_within_the_window_is_held_and_counted_on_the_next() -> None:
    clock = Clock()
    limit = AlertLimit(600, clock=clock)
    assert limit.admit("automation_failed", "a1") == 0
    clock.now += 599
    assert limit.admit("automation_failed", "a1") is None
    assert limit.admit("automation_failed", "a1") is None
    clock.now += 1
    assert limit.admit("automation_failed", "a1") == 2
    assert limit.admit("automation_failed", "a1") is None


def test_subjects_and_kinds_are_limited_apart_up_to_the_burst() -> None:
    clock = Clock()
    limit = AlertLimit(600, burst=3, clock=clock)
    assert [limit.admit("automation_failed", s) for s in ("a1", "a2", "a3", "a4")] == [
        0,
        0,
        0,
        None,
    ]
    # Another kind has a burst of its own.
    assert limit.admit("disk_full", "/data") == 0
    clock.now += 601
    # The burst's window has passed: the held one of the kind is counted here.
    assert limit.admit("automation_failed", "a5") == 1


def test_a_window_of_zero_lets_every_alert_through() -> None:
    limit = AlertLimit(0)
    assert [limit.admit("service_stopped", "runner") for _ in range(5)] == [0] * 5
