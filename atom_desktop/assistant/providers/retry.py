"""Sending a provider request again after 429 and 5xx, the way the server asks.

Only the opening of a response is retried (its status and headers): once
an answer streams, its text has been shown, and asking again would show it
twice. 400, 401, 403 and 404 are never retried: the same request gets the
same answer. A wait the server asks for (``Retry-After``, in seconds or as
an HTTP date; OpenAI's ``retry-after-ms`` too) is honoured; one longer than
:attr:`RetryPolicy.max_delay` is not waited out but reported, so a person is
never left looking at a spinner for minutes. Without one the waits double
from :attr:`RetryPolicy.first_delay`; there is no jitter, because one
desktop is not a crowd of clients retrying in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind

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


#: Turns a failed response (its body read) into the error it means.
Classify = Callable[[httpx.Response, bytes], ProviderError]


async def send_with_retry(
    client: httpx.AsyncClient,
    build: Callable[[], httpx.Request],
    classify: Classify,
    *,
    policy: RetryPolicy,
    label: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> httpx.Response:
    """An open streaming response with a 2xx status; ProviderError otherwise.

    The caller reads the body and closes the response. ``label`` names the
    provider in messages.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            response = await client.send(build(), stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise offline_error(label) from None
        except httpx.TimeoutException:
            raise ProviderError(
                ProviderErrorKind.SERVER_ERROR,
                f"{label} did not answer in time.",
                hint="Try again; a local model may need a longer timeout or a smaller model.",
            ) from None
        except httpx.TransportError as exc:
            error = ProviderError(
                ProviderErrorKind.SERVER_ERROR,
                f"The connection to {label} failed ({type(exc).__name__}).",
                hint="Try again in a moment.",
            )
        else:
            if response.is_success:
                return response
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            error = classify(response, body)
        wait = policy.delay(attempt, error.retry_after) if error.retryable else None
        if wait is None:
            raise error
        logger.info(
            "%s answered %s (%s); asking again in %.1f s (try %d of %d)",
            label,
            error.status,
            error.kind,
            wait,
            attempt + 1,
            policy.tries,
        )
        await sleep(wait)


def offline_error(label: str) -> ProviderError:
    """The error for a server that cannot be reached at all."""
    return ProviderError(
        ProviderErrorKind.OFFLINE,
        f"{label} cannot be reached.",
        hint="Check the network connection, or that the local server is running at the base "
        "URL in Settings → Assistant.",
    )
