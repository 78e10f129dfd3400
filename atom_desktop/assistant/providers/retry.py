"""Sending a provider request again after 429 and 5xx, the way the server asks.

A request is asked again only while nothing of its answer has been passed
on: after an error status, a broken connection, or an error the stream
reports before its first piece (Anthropic's ``overloaded_error`` event).
Once an answer's text has been shown, asking again would show it twice, so
a later failure is reported instead. A timeout is not retried either: it
would make the person wait as long again. 400, 401, 403 and 404 are never
retried: the same request gets the same answer.

A wait the server asks for (``Retry-After``, in seconds or as an HTTP date;
OpenAI's ``retry-after-ms`` too) is honoured; one longer than
:attr:`RetryPolicy.max_delay` is not waited out but reported, so a person
is never left looking at a spinner for minutes. Without one the waits
double from :attr:`RetryPolicy.first_delay`; there is no jitter, because
one desktop is not a crowd of clients retrying in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from atom_desktop.assistant.providers.base import Delta
from atom_desktop.assistant.providers.errors import ProviderError
from atom_desktop.assistant.providers.exchange import Classify, Parse, exchange

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry."""

    #: Requests in all, the first included.
    tries: int = 3
    first_delay: float = 1.0
    #: The longest single wait, the server's Retry-After included.
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1); None: give up."""
        if attempt >= self.tries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_delay else None
        return min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay)


def retry_after_seconds(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """The wait a response asks for, in seconds (None when it names none it can be read as)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a bare one is read as such
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


async def retrying(
    attempt: Callable[[], AsyncGenerator[Delta, None]],
    *,
    policy: RetryPolicy,
    label: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[Delta, None]:
    """The deltas of ``attempt()``, started again after a retryable failure that came
    before its first delta; ``label`` names the provider in the log."""
    tries = 0
    while True:
        tries += 1
        started = False
        try:
            async with aclosing(attempt()) as deltas:
                async for delta in deltas:
                    started = True
                    yield delta
        except ProviderError as error:
            wait = policy.delay(tries, error.retry_after) if error.retryable else None
            if started or wait is None:
                raise
            logger.info(
                "%s answered %s (%s); asking again in %.1f s (try %d of %d)",
                label,
                error.status or "in its stream",
                error.kind,
                wait,
                tries + 1,
                policy.tries,
            )
            await sleep(wait)
        else:
            return


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    *,
    payload: dict[str, Any],
    headers: dict[str, str],
    classify: Classify,
    parse: Parse,
    policy: RetryPolicy,
    label: str,
) -> AsyncGenerator[Delta, None]:
    """POST ``payload`` to ``url`` and yield its answer's deltas; the request is
    made again, as ``policy`` allows, after a retryable failure before the first."""

    def attempt() -> AsyncGenerator[Delta, None]:
        request = client.build_request("POST", url, json=payload, headers=headers)
        return exchange(client, request, classify, parse, label)

    async with aclosing(retrying(attempt, policy=policy, label=label)) as deltas:
        async for delta in deltas:
            yield delta
