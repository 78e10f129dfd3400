"""Retry-After read in both of its forms, and the waits between tries."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from atom_desktop.assistant.providers.retry import RetryPolicy, retry_after_seconds

NOW = datetime(2026, 12, 7, 14, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": " 1.5 "}, 1.5),
        ({"Retry-After": "Mon, 07 Dec 2026 14:00:20 GMT"}, 20.0),
        ({"Retry-After": "Mon, 07 Dec 2026 13:59:00 GMT"}, 0.0),  # already past
        ({"Retry-After": "-4"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "1"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
    ids=["seconds", "fraction", "http-date", "past-date", "negative", "ms", "garbage", "none"],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers), NOW) == seconds


def test_the_waits_double_up_to_the_cap_and_stop_after_the_last_try() -> None:
    policy = RetryPolicy(tries=5, first_delay=1.0, max_delay=3.0)
    assert [policy.delay(n, None) for n in range(1, 6)] == [1.0, 2.0, 3.0, 3.0, None]


def test_a_wait_the_server_asks_for_is_kept_unless_it_is_too_long() -> None:
    policy = RetryPolicy(tries=3, max_delay=30.0)
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(1, 31.0) is None  # reported instead of waited out
    assert policy.delay(3, 1.0) is None
