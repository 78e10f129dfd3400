"""Fetching the signed manifest and a build, verifying the build as it arrives.

A build is streamed into a temporary file in the updates cache: the download
stops as soon as it passes the manifest's size, a short one is refused, and
the SHA-256 must match before the file gets its final name. A refused or
interrupted download leaves no file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from atom_desktop.core.update_address import check_url
from atom_desktop.updates.errors import DownloadRefusedError, UpdateError
from atom_desktop.updates.manifest import PlatformBuild
from atom_desktop.updates.signature import MAX_DOCUMENT_BYTES

Progress = Callable[[int, int], None]
_CHUNK = 256 * 1024
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_MAX_REDIRECTS = 5


def fetch_manifest(url: str, client: httpx.Client | None = None) -> bytes:
    """The signed manifest document's bytes (at most its size limit)."""
    with _client(client) as http:
        try:
            with _get(http, url) as response:
                _check_status(response, url)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        break
                return bytes(body)
        except httpx.HTTPError as exc:
            raise UpdateError(
                f"The update manifest at {url} could not be fetched: {_reason(exc)}.",
                hint="Check the network or the update address; the next check retries.",
            ) from None


def download_build(
    build: PlatformBuild,
    cache_dir: Path,
    name: str,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
) -> Path:
    """Download ``build`` into ``cache_dir/name``, verified; DownloadRefusedError if it is not it.

    An existing verified file of that name is reused without a download.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / name
    if target.is_file() and _sha256(target) == build.sha256:
        return target
    fd, part_name = tempfile.mkstemp(dir=cache_dir, prefix=".download-", suffix=".part")
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(build, out, progress, client)
        if digest != build.sha256:
            raise DownloadRefusedError(
                f"The downloaded build's SHA-256 is {digest}, but the signed manifest says "
                f"{build.sha256}: the file on the server is not the released one. It was "
                "deleted and nothing was installed."
            )
        part.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    return target


def build_file_name(version: str, url: str) -> str:
    """The cache name of a build: its version and the URL's file suffix (.tar.gz, .msi, .dmg)."""
    path_name = PurePosixPath(urlsplit(url).path).name
    suffix = "".join(PurePosixPath(path_name).suffixes[-2:]) if path_name else ""
    safe = "".join(c for c in suffix if c.isalnum() or c == ".")[:16]
    return f"atom-desktop-{version}{safe}"


def _stream(
    build: PlatformBuild, out: BinaryIO, progress: Progress | None, client: httpx.Client | None
) -> str:
    digest = hashlib.sha256()
    received = 0
    write = out.write
    with _client(client) as http:
        try:
            with _get(http, build.url) as response:
                _check_status(response, build.url)
                announced = response.headers.get("content-length")
                if announced is not None and announced.isdigit() and int(announced) > build.size:
                    raise DownloadRefusedError(
                        f"The server offers {announced} bytes for the build, but the signed "
                        f"manifest says {build.size}; the download was refused."
                    )
                for chunk in response.iter_bytes(_CHUNK):
                    received += len(chunk)
                    if received > build.size:
                        raise DownloadRefusedError(
                            f"The server sent more than the {build.size} bytes the signed "
                            "manifest says the build has; the download was stopped and deleted."
                        )
                    digest.update(chunk)
                    write(chunk)
                    if progress is not None:
                        progress(received, build.size)
        except httpx.HTTPError as exc:
            if received < build.size and isinstance(
                exc, httpx.RemoteProtocolError | httpx.ReadError
            ):
                raise DownloadRefusedError(_truncated(received, build.size)) from None
            raise UpdateError(
                f"The build at {build.url} could not be downloaded: {_reason(exc)}.",
                hint="The next check retries; nothing was installed.",
            ) from None
    if received < build.size:
        raise DownloadRefusedError(_truncated(received, build.size))
    return digest.hexdigest()


def _truncated(received: int, size: int) -> str:
    return (
        f"The download ended after {received} of the {size} bytes the signed manifest "
        "says the build has (truncated); it was deleted and nothing was installed."
    )


def _client(client: httpx.Client | None) -> httpx.Client | contextlib.nullcontext[httpx.Client]:
    if client is not None:
        return contextlib.nullcontext(client)
    return httpx.Client(timeout=_TIMEOUT, trust_env=False)


@contextlib.contextmanager
def _get(http: httpx.Client, url: str) -> Iterator[httpx.Response]:
    """GET ``url``, following redirects only to addresses an update may come from.

    Every redirect's target passes the same check as the manifest's own
    addresses (https, or http to a loopback host), so a redirect cannot take
    a download to plain http elsewhere.
    """
    for _ in range(_MAX_REDIRECTS + 1):
        with http.stream("GET", url, follow_redirects=False) as response:
            target = response.next_request
            if not response.is_redirect or target is None:
                yield response
                return
        next_url = str(target.url)
        try:
            check_url(next_url)
        except ValueError as exc:
            raise UpdateError(
                f"The update server at {url} redirected to {next_url}; the redirect was "
                f"refused: {exc}. Nothing was downloaded from there.",
                hint="Check the update address or the mirror's redirects.",
            ) from None
        url = next_url
    raise UpdateError(
        f"The update server redirected more than {_MAX_REDIRECTS} times; "
        f"the last address was {url}.",
        hint="Check the update address or the mirror's redirects.",
    )


def _check_status(response: httpx.Response, url: str) -> None:
    if response.status_code != 200:
        raise UpdateError(
            f"The update server answered {response.status_code} for {url}.",
            hint="Check the update address; the next check retries.",
        )


def _reason(exc: httpx.HTTPError) -> str:
    return str(exc) or type(exc).__name__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
