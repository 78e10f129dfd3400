"""One request to a provider and its streamed answer, every failure made a ProviderError.

:func:`exchange` sends one request (no retries: :func:`~.retry.retrying`
decides those), turns an error status into the error it means with the
provider's ``classify``, reads a 2xx answer with the provider's parser, and
closes the response however the reading ends. :func:`fetch_json` is the
same for a plain JSON answer (a model list).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import httpx

from atom_desktop.assistant.providers.base import Delta
from atom_desktop.assistant.providers.errors import ProviderError, ProviderErrorKind
from atom_desktop.assistant.providers.wire_text import json_object

#: Turns a failed response (its body read) into the error it means.
Classify = Callable[[httpx.Response, bytes], ProviderError]
#: Reads a provider's 2xx streamed answer into deltas.
Parse = Callable[[httpx.Response], AsyncGenerator[Delta, None]]


def offline_error(label: str) -> ProviderError:
    """The error for a server that cannot be reached at all."""
    return ProviderError(
        ProviderErrorKind.OFFLINE,
        f"{label} cannot be reached.",
        hint="Check the network connection, or that the local server is running at the base "
        "URL in Settings → Assistant.",
    )


def _timed_out(label: str, started: bool) -> ProviderError:
    # Not retried: asking again would make the person wait as long once more.
    if started:
        return ProviderError(
            ProviderErrorKind.SERVER_ERROR,
            f"{label} stopped sending its answer part-way.",
            hint="Try again.",
            retryable=False,
        )
    return ProviderError(
        ProviderErrorKind.SERVER_ERROR,
        f"{label} did not answer in time.",
        hint="Try again; a local model may need a longer timeout or a smaller model.",
        retryable=False,
    )


def _broken(label: str, exc: Exception) -> ProviderError:
    return ProviderError(
        ProviderErrorKind.SERVER_ERROR,
        f"The connection to {label} broke ({type(exc).__name__}).",
        hint="Try again in a moment.",
    )


async def exchange(
    client: httpx.AsyncClient,
    request: httpx.Request,
    classify: Classify,
    parse: Parse,
    label: str,
) -> AsyncGenerator[Delta, None]:
    """The deltas of one request's answer; ProviderError on any failure.

    ``label`` names the provider in messages (never the key, never the URL's
    query).
    """
    response = await _send(client, request, label, stream=True)
    started = False
    try:
        if not response.is_success:
            raise classify(response, await response.aread())
        async with aclosing(parse(response)) as deltas:
            async for delta in deltas:
                started = True
                yield delta
    except httpx.TimeoutException:
        raise _timed_out(label, started) from None
    except httpx.TransportError as exc:
        raise _broken(label, exc) from None
    finally:
        await response.aclose()


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, label: str, *, stream: bool
) -> httpx.Response:
    """Send ``request``; a failure before any answer is a ProviderError saying which."""
    try:
        return await client.send(request, stream=stream)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise offline_error(label) from None
    except httpx.TimeoutException:
        raise _timed_out(label, started=False) from None
    except httpx.TransportError as exc:
        raise _broken(label, exc) from None


async def fetch_json(
    client: httpx.AsyncClient, request: httpx.Request, classify: Classify, label: str
) -> dict[str, Any]:
    """The JSON object one (non-streamed) request answers; ProviderError on any failure."""
    response = await _send(client, request, label, stream=False)
    if not response.is_success:
        raise classify(response, response.content)
    value = json_object(response.content)
    if value is None:
        raise ProviderError(
            ProviderErrorKind.SERVER_ERROR,
            f"{label} answered with something other than a JSON object.",
            hint="Check the base URL in Settings → Assistant.",
        )
    return value


def model_ids(listing: dict[str, Any]) -> list[str]:
    """The ids in a model list (``{"data": [{"id": ...}, ...]}``, as both APIs answer), sorted."""
    data = listing.get("data")
    entries = data if isinstance(data, list) else []
    return sorted(
        {e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
    )
