"""The httpx client providers share, with explicit timeouts."""

from __future__ import annotations

import httpx

#: ``read`` is the longest quiet spell between two chunks of a streamed
#: answer (and before the first: a local model may think a while before it).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)


def new_client(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """A client for provider calls; close it (``async with``) when done.

    Redirects are not followed: an API that answers with one is misconfigured,
    and following it would send the key to another address.
    """
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)
