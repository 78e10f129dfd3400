"""A real OpenID Connect provider on loopback for the OAuth tests.

npm's ``oidc-provider`` (installed in ``tests/support/oidc`` by scripts/test)
runs under node as our child: authorization code with PKCE S256, rotating
refresh tokens, RFC 7009 revocation, RFC 7662 introspection, the RFC 8628
device grant and discovery, all as a real provider does them. Its
development login and consent pages are plain HTML forms, which
:class:`OidcProvider` fills in headlessly, so a test plays the person in the
browser without one.

Two clients are registered on every start: a native public client (no
secret, PKCE, any loopback port on ``http://127.0.0.1/oauth/callback``) as
the desktop app is, and a confidential client that only the tests use, to
introspect tokens.

What bites (oidc-provider 9):

- ``offline_access`` (hence a refresh token) is only granted with
  ``prompt=consent`` in the authorization request; without it the scope is
  silently dropped.
- Replaying a refresh token that was already rotated revokes the whole
  grant, the new refresh token included.
- Its in-memory store keeps about 1,000 recent entries: a token left
  untouched while a thousand others are written may be forgotten.
- Only PKCE ``S256`` exists; a request without ``code_challenge`` is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.support.processes import stop_process

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
SCRIPT = OIDC_DIR / "provider.mjs"
#: The native client's registered redirect; as a native client any port on it matches.
REDIRECT_URI = "http://127.0.0.1/oauth/callback"
NATIVE_CLIENT_ID = "atom-desktop-test"
CONFIDENTIAL_CLIENT_ID = "atom-test-introspector"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_START_TIMEOUT_S = 20
_HTTP_TIMEOUT_S = 10
# More form pages than any flow of this provider shows: a loop guard.
_MAX_PAGES = 12


class OidcProviderUnavailableError(RuntimeError):
    """node or the oidc-provider package is missing on this machine."""


@dataclass(frozen=True)
class OidcProvider:
    """A running provider, its clients, and what a test does with it."""

    issuer: str
    client_id: str
    confidential_client_id: str
    confidential_client_secret: str = field(repr=False)
    access_token_ttl_s: int
    #: The discovery document (``/.well-known/openid-configuration``).
    metadata: dict[str, Any] = field(repr=False)
    pid: int
    #: Where it listens (the issuer names another port when a proxy is in front).
    port: int
    log: Path
    admin_secret: str = field(repr=False)
    redirect_uri: str = REDIRECT_URI

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def device_authorization_endpoint(self) -> str:
        return str(self.metadata["device_authorization_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    def login(self, authorize_url: str, login: str = "alice") -> str:
        """Sign in as ``login`` and consent; return the redirect to the loopback callback.

        The returned URL carries ``code`` and ``state`` (or ``error`` if the
        provider refused the request); it is not requested, so the caller
        decides whether its own callback server sees it.
        """
        with self._browser() as browser:
            response = browser.get(authorize_url)
            return self._fill_forms(browser, response, login=login)

    def deny(self, authorize_url: str) -> str:
        """Cancel at the first page (sign-in); return the redirect with ``error=access_denied``."""
        with self._browser() as browser:
            response = browser.get(authorize_url)
            for _ in range(_MAX_PAGES):
                if not response.is_redirect:
                    break
                target = _location(response)
                if not self._is_own(target):
                    return target
                response = browser.get(target)
            page = _Page.parse(response.text)
            if page.abort_url is None:
                raise AssertionError(f"no cancel link on the page:\n{_summary(response)}")
            response = browser.get(urljoin(str(response.url), page.abort_url))
            return self._fill_forms(browser, response, login="")

    def approve_device(self, user_code: str, login: str = "alice") -> None:
        """Enter ``user_code`` on the verification page, sign in as ``login`` and consent."""
        with self._browser() as browser:
            response = browser.get(f"{self.issuer}/device")
            final = self._fill_forms(browser, response, login=login, user_code=user_code)
            if final != "":
                raise AssertionError(f"the device flow left for {final!r} instead of finishing")

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection, authenticated as the confidential client."""
        response = httpx.post(
            self.introspection_endpoint,
            data={
                "token": token,
                "client_id": self.confidential_client_id,
                "client_secret": self.confidential_client_secret,
            },
            timeout=_HTTP_TIMEOUT_S,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def revoke_all_grants(self) -> None:
        """Revoke every grant and all of its tokens, as a user removing the app's access does."""
        response = httpx.post(
            f"{self.issuer}/__test/revoke-grants",
            headers=self._admin_headers(),
            timeout=_HTTP_TIMEOUT_S,
        )
        response.raise_for_status()

    def token_requests(self) -> dict[str, int]:
        """Requests that reached the token endpoint so far, by grant type, refused ones included."""
        response = httpx.get(
            f"{self.issuer}/__test/stats", headers=self._admin_headers(), timeout=_HTTP_TIMEOUT_S
        )
        response.raise_for_status()
        counts: dict[str, int] = response.json()["token_requests"]
        return counts

    def _admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_secret}"}

    def _browser(self) -> httpx.Client:
        # Redirects are followed by hand: the last one leaves for the app's
        # callback, which must not be requested.
        return httpx.Client(follow_redirects=False, timeout=_HTTP_TIMEOUT_S)

    def _is_own(self, url: str) -> bool:
        return url == self.issuer or url.startswith(f"{self.issuer}/")

    def _fill_forms(
        self, browser: httpx.Client, response: httpx.Response, *, login: str, user_code: str = ""
    ) -> str:
        """Follow the provider's pages until it redirects elsewhere (returned) or shows no form.

        A page without a form is the end of a flow that stays on the
        provider (the device flow's success page); then ``""`` is returned.
        """
        for _ in range(_MAX_PAGES):
            if response.is_redirect:
                target = _location(response)
                if not self._is_own(target):
                    return target
                response = browser.get(target)
                continue
            if response.status_code != httpx.codes.OK:
                raise AssertionError(f"the provider answered {_summary(response)}")
            page = _Page.parse(response.text)
            if page.error:
                # The device pages show a refused code again with the same form.
                raise AssertionError(f"the provider refused it: {page.error}")
            if page.form is None:
                if page.title == "Sign-in Success":
                    return ""
                raise AssertionError(f"a page without a form:\n{_summary(response)}")
            action, fields = page.form
            if "login" in fields:
                fields["login"] = login
                # devInteractions accepts any password.
                fields["password"] = "any password"
            if "user_code" in fields and not fields["user_code"]:
                fields["user_code"] = user_code
            response = browser.post(urljoin(str(response.url), action), data=fields)
        raise AssertionError(f"no end after {_MAX_PAGES} pages: {_summary(response)}")


def _location(response: httpx.Response) -> str:
    return urljoin(str(response.url), response.headers["location"])


def _summary(response: httpx.Response) -> str:
    request = response.request
    return f"{response.status_code} for {request.method} {request.url}:\n{response.text[:2000]}"


class _Page(HTMLParser):
    """The first form of a page (action and inputs), its cancel link, title and error line."""

    def __init__(self) -> None:
        super().__init__()
        self.form: tuple[str, dict[str, str]] | None = None
        self.abort_url: str | None = None
        self.title = ""
        self.error = ""
        self._in_form = False
        self._in_title = False
        self._in_error = False
        self._done_form = False

    @classmethod
    def parse(cls, html: str) -> _Page:
        page = cls()
        page.feed(html)
        page.close()
        return page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form" and not self._done_form:
            self._in_form = True
            self.form = (values.get("action", ""), {})
        elif tag == "input" and self._in_form and self.form is not None and "name" in values:
            self.form[1][values["name"]] = values.get("value", "")
        elif tag == "a" and values.get("href", "").endswith("/abort"):
            self.abort_url = values["href"]
        elif tag == "title":
            self._in_title = True
        elif tag == "p" and values.get("class") == "red":
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done_form = True
        elif tag == "title":
            self._in_title = False
        elif tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        if self._in_error:
            self.error += data.strip()


@contextlib.contextmanager
def running_oidc_provider(
    workdir: Path, *, access_token_ttl_s: int = 3600, public_port: int | None = None
) -> Iterator[OidcProvider]:
    """Start the provider on a free loopback port, yield it, stop it; no process outlives this.

    ``workdir`` receives the provider's log (its stderr), which a failed
    start quotes. Access tokens live ``access_token_ttl_s`` seconds. With
    ``public_port``, the issuer (and every endpoint) names that port, where
    the test runs a proxy to ``OidcProvider.port``: stopping the proxy takes
    the provider offline without losing its grants.
    """
    node = shutil.which("node")
    if node is None:
        raise OidcProviderUnavailableError("node is missing; ./scripts/test installs it")
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        raise OidcProviderUnavailableError(
            f"oidc-provider is not installed in {OIDC_DIR}; ./scripts/test installs it "
            f"(or run: npm ci --prefix {OIDC_DIR})"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "oidc-provider.log"
    secret = secrets.token_urlsafe(32)
    config: dict[str, Any] = {
        "access_token_ttl_s": access_token_ttl_s,
        "clients": [
            {
                "client_id": NATIVE_CLIENT_ID,
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token", DEVICE_GRANT],
                "response_types": ["code"],
            },
            {
                "client_id": CONFIDENTIAL_CLIENT_ID,
                "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_post",
                # It only introspects: no grant of its own.
                "grant_types": [],
                "response_types": [],
                "redirect_uris": [],
            },
        ],
    }
    if public_port is not None:
        config["public_port"] = public_port
    with (
        log.open("wb") as stderr,
        subprocess.Popen(
            [node, str(SCRIPT), json.dumps(config)],
            # Held open for its whole life: the provider exits when it closes,
            # so even a test process killed outright leaves nothing behind.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=workdir,
        ) as proc,
    ):
        try:
            ready = _wait_for_ready_line(proc, log)
            issuer = str(ready["issuer"])
            port = int(ready["port"])
            # Asked at its own port: a proxy on the public one may not run yet.
            metadata = httpx.get(
                f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                timeout=_HTTP_TIMEOUT_S,
            ).json()
            yield OidcProvider(
                issuer=issuer,
                client_id=NATIVE_CLIENT_ID,
                confidential_client_id=CONFIDENTIAL_CLIENT_ID,
                confidential_client_secret=secret,
                access_token_ttl_s=access_token_ttl_s,
                metadata=metadata,
                pid=proc.pid,
                port=port,
                log=log,
                admin_secret=str(ready["admin_secret"]),
            )
        finally:
            stop_process(proc)


def _wait_for_ready_line(proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """Read the provider's one stdout line, or fail with its log once it dies or times out."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = b""
    deadline = time.monotonic() + _START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"the OIDC provider was not ready after {_START_TIMEOUT_S} s; "
                    f"its log:\n{_tail(log)}"
                )
            if not selector.select(remaining):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = proc.wait(5)
                raise RuntimeError(
                    f"the OIDC provider exited ({code}) before it was ready; its log:\n{_tail(log)}"
                )
            buffer += chunk
    line = buffer.split(b"\n", 1)[0]
    try:
        ready: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"the OIDC provider printed {line!r}, not its ready line") from exc
    return ready


def _tail(log: Path, limit: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-limit:]
    except OSError as exc:
        return f"(unreadable: {exc})"
