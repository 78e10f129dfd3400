"""Which addresses an update (manifest, build, or a redirect to either) may come from.

Shared by the settings (``update_url``) and the update package (the
manifest's build addresses, redirects), so both accept the same addresses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: Hosts that may serve a manifest or build over plain http (tests, local mirrors).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_url(url: str) -> str:
    """Return ``url`` if it is https, or http to a loopback host; else raise ValueError."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValueError("an update address must not carry a user name or password")
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url
    raise ValueError(
        f"{url!r} is not an allowed update address: use https (plain http only to "
        "127.0.0.1 or localhost, for a local mirror)"
    )
