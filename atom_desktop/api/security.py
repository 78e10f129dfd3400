"""The checks every request passes before any handler runs.

Order: Host (DNS rebinding), Origin (cross-site requests), CORS preflight,
bearer token and scope, then the body (JSON only, size-limited). The checks
are pure functions, tested as tables; :class:`SecurityMiddleware` applies them
to every HTTP request and WebSocket handshake, and adds the security headers
to every response. CORS is not the defence here; these checks are.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIWebSocketRoute
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atom_desktop.api.auth import Principal, TokenAuthority
from atom_desktop.api.errors import error_body
from atom_desktop.api.rate_limit import Limited, RateLimiter
from atom_desktop.api.request_metrics import UNMATCHED, RequestStats, timed_send

PUBLIC = "public"
#: Key in a route's ``openapi_extra`` naming the scope it needs.
SCOPE_KEY = "x-atom-scope"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
#: How many distinct (method, path) answers the route table remembers.
SEEN_PATHS = 4096
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PREFLIGHT_HEADERS = "authorization, content-type, last-event-id"
#: On every JSON answer. nosniff and Cross-Origin-Resource-Policy keep a
#: foreign page from reading an answer through a <script> or <img> tag; no-store
#: keeps answers out of the browser's disk cache; the CSP makes an answer opened
#: as a page run nothing and refuse to be framed. X-Frame-Options and
#: Referrer-Policy are left to the docs page: every browser that can reach the
#: agent (see DESIGN.md on Local Network Access) obeys ``frame-ancestors``, and a
#: document that may load nothing sends no Referer. Each header costs about 2.5%
#: of a /health answer's instructions, mostly in uvicorn's checks of it
#: (bench/api_cost.py).
API_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
# Swagger UI's page runs an inline start-up script and its own bundle.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; frame-ancestors 'none'"
)
#: The docs are a page a person opens, which loads scripts and takes the token.
DOCS_HEADERS = (
    *(
        (name, DOCS_CSP if name == b"content-security-policy" else value)
        for name, value in API_HEADERS
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


#: The page a provider's sign-in ends on: it loads nothing but its own inline
#: style, cannot be framed, and sends no Referer (its address held the code).
CALLBACK_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
        b"form-action 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_CALLBACK_PATH = "/oauth/callback"


def allowed_hosts(port: int, extra_hosts: Iterable[str] = ()) -> frozenset[str]:
    """Host header values that name this agent (exact match, with port)."""
    names = (*LOOPBACK_NAMES, *extra_hosts)
    return frozenset(f"{name}:{port}" for name in names)


def host_bytes(hosts: Iterable[str]) -> frozenset[bytes]:
    """``hosts`` as a request's Host header spells them, lower-case.

    A name that is not ASCII could never match: a Host header that is not
    ASCII is refused.
    """
    return frozenset(host.lower().encode("ascii") for host in hosts if host.isascii())


def host_ok(values: list[bytes], allowed: frozenset[bytes]) -> bool:
    """Exactly one Host header, and it names this agent (any letter case)."""
    # bytes.lower() changes ASCII letters only, so a non-ASCII Host stays unmatched.
    return len(values) == 1 and values[0].lower() in allowed


def origin_ok(values: list[bytes], allowed: frozenset[str]) -> bool:
    """No Origin header, or exactly one that is in the allowlist."""
    if not values:
        return True
    if len(values) != 1:
        return False
    try:
        return values[0].decode("ascii") in allowed
    except UnicodeDecodeError:
        return False


def bearer_token(values: list[bytes]) -> str | None:
    """The token of a single ``Authorization: Bearer`` header."""
    if len(values) != 1:
        return None
    scheme, _, token = values[0].decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def websocket_token(values: list[bytes]) -> str | None:
    """The token a browser sends as the subprotocol pair ``bearer, <token>``."""
    offered = [p.strip() for v in values for p in v.decode("latin-1").split(",")]
    for i, protocol in enumerate(offered[:-1]):
        if protocol == "bearer":
            return offered[i + 1]
    return None


def json_content_type(values: list[bytes]) -> bool:
    """``application/json`` (parameters such as charset allowed)."""
    if len(values) != 1:
        return False
    media = values[0].decode("latin-1").split(";")[0].strip().lower()
    return media == "application/json"


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())


#: The request headers the checks read; every other header is skipped in the
#: one pass over the request's headers.
CHECKED_HEADERS = frozenset(
    {
        b"host",
        b"origin",
        b"authorization",
        b"sec-websocket-protocol",
        b"content-length",
        b"transfer-encoding",
        b"content-type",
    }
)
NO_VALUES: list[bytes] = []
BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"content-type"})


def checked_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    """Every value of each header the checks read (ASGI names are lower-case)."""
    found: dict[bytes, list[bytes]] = {}
    for name, value in raw:
        if name in CHECKED_HEADERS:
            if name in found:
                found[name].append(value)
            else:
                found[name] = [value]
    return found


@dataclass
class SecurityConfig:
    """What the middleware needs to know about this agent."""

    hosts: frozenset[str]
    origins: frozenset[str]
    max_body: int


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A path template, its methods and the scope it needs."""

    regex: re.Pattern[str]
    methods: frozenset[str]
    scope: str
    template: str


class RouteTable:
    """Which scope each route needs, known before routing.

    Built from the routers the app includes (each route names its scope in
    ``openapi_extra``), so the middleware decides without running the router.
    A route that names no scope needs ``admin``; a path that matches nothing,
    or matches with another method, needs ``read``: nothing about the API is
    told to a caller without a token.
    """

    def __init__(self) -> None:
        self._rules: list[RouteRule] = []
        # (method, path) -> the scan's answer: the rules are scanned in order
        # with a regex each, about 0.2 us a rule, for every request otherwise.
        self._seen: dict[tuple[str, str], tuple[str, str]] = {}

    def add(self, template: str, methods: Iterable[str], scope: str) -> None:
        """Add one route; ``template`` uses ``{param}`` placeholders."""
        regex, _, _ = compile_path(template)
        self._rules.append(RouteRule(regex, frozenset(methods), scope, template))
        self._seen.clear()

    def add_prefix(self, prefix: str, scope: str) -> None:
        """Everything under ``prefix`` (a static files mount), GET and HEAD."""
        regex = re.compile("^" + re.escape(prefix.rstrip("/")) + "(/.*)?$")
        self._rules.append(RouteRule(regex, frozenset({"GET", "HEAD"}), scope, prefix + "/*"))
        self._seen.clear()

    def add_router(self, prefix: str, router: APIRouter) -> None:
        """Every route of ``router`` under ``prefix``."""
        for route in router.routes:
            path = prefix + getattr(route, "path", "")
            if isinstance(route, APIWebSocketRoute):
                methods: Iterable[str] = ("WEBSOCKET",)
                needed = getattr(route, "atom_scope", "admin")
            else:
                methods = getattr(route, "methods", None) or ()
                extra = getattr(route, "openapi_extra", None) or {}
                needed = extra.get(SCOPE_KEY, "admin")
            self.add(path, methods, str(needed))

    def lookup(self, scope: Scope) -> tuple[str, str]:
        """The scope the request needs and the route template it hit."""
        method = "WEBSOCKET" if scope["type"] == "websocket" else scope["method"]
        if method == "HEAD":
            method = "GET"
        key = (method, scope["path"])
        found = self._seen.get(key)
        if found is None:
            found = self._scan(*key)
            # Bounded: paths carry ids, and a caller may send any number of them.
            if len(self._seen) >= SEEN_PATHS:
                self._seen.clear()
            self._seen[key] = found
        return found

    def templates(self) -> frozenset[str]:
        """Every route template in the table (the metrics' route labels)."""
        return frozenset(rule.template for rule in self._rules)

    def methods_at(self, path: str) -> list[str]:
        """Every HTTP method some route serves at ``path``, sorted: a 405's ``Allow``.

        The union over every route of the path (one per method, as FastAPI
        declares them), which the router's own 405 does not give.
        """
        methods = {m for rule in self._rules if rule.regex.match(path) for m in rule.methods}
        methods.discard("WEBSOCKET")
        return sorted(methods)

    def _scan(self, method: str, path: str) -> tuple[str, str]:
        for rule in self._rules:
            if rule.regex.match(path) and method in rule.methods:
                return rule.scope, rule.template
        return "read", path


@dataclass
class Refusal:
    """Why a request is refused, and by whom it was sent if that is known."""

    status: int
    code: str
    message: str
    principal: Principal | None = None


PREFLIGHT = object()

AuditHook = Callable[[Scope, Principal | None, int], Awaitable[None]]
#: Told of the first refused request of each burst (``Limited.first``).
LimitHook = Callable[[Scope, Principal | None, Limited], Awaitable[None]]


class SecurityMiddleware:
    """Applies the checks to every request before routing to a handler.

    ``__call__`` is a plain function that returns what the server awaits, not
    a coroutine of its own: a request that passes goes on to the app without
    one more coroutine frame, and ``send`` is wrapped the same way. On a
    request as small as ``/health`` the layer is otherwise a fifth of the
    server's work (``bench/api.py``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: SecurityConfig,
        authority: TokenAuthority,
        routes: RouteTable,
        audit: AuditHook | None = None,
        limiter: RateLimiter | None = None,
        on_limited: LimitHook | None = None,
        metrics: RequestStats | None = None,
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._on_limited = on_limited
        #: Where every HTTP request is counted and timed (None: not counted).
        self._metrics = metrics
        self._routes = routes
        self._config = config
        self._authority = authority
        self._audit = audit
        # Compared with the raw header, so a request is not decoded to check it.
        self._hosts = host_bytes(config.hosts)

    def __call__(  # noqa: PLR0911 - one return per outcome, in order
        self, scope: Scope, receive: Receive, send: Send
    ) -> Awaitable[None]:
        """ASGI entry point (ASGI 3, though not a coroutine function: see the class)."""
        kind = scope["type"]
        if kind == "websocket":
            return self._websocket(scope, receive, send)
        if kind != "http":
            return self.app(scope, receive, send)
        method = scope["method"]
        headers = checked_headers(scope["headers"])
        outcome = self._authorize(scope, headers, websocket=False)
        if isinstance(outcome, Refusal):
            return self._refuse(scope, self._counting(send, scope), outcome, method)
        origin_values = headers.get(b"origin")
        origin = origin_values[0].decode("latin-1") if origin_values else None
        if outcome is PREFLIGHT:
            return _send_preflight(self._counting(send, scope), origin or "")
        principal = outcome if isinstance(outcome, Principal) else None
        limiter = self._limiter
        if limiter is not None:
            # Only what passed the checks: a refusal is answered here, as
            # cheaply as a 429 would be, and says what is wrong.
            limited = limiter.check(principal, method, scope["atom_route"])
            if limited is not None:
                return self._too_many(
                    scope, self._counting(send, scope), limited, principal, origin
                )
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
        added = _response_headers(scope["path"], origin)
        # Most requests (GETs) send no body, say nothing about one and are
        # not audited: they take no further step.
        audit = self._audit if method not in SAFE_METHODS else None
        has_body = not BODY_HEADERS.isdisjoint(headers)  # no set built per request
        if audit is not None or has_body:
            return self._with_body(
                scope,
                receive,
                send,
                headers=headers if has_body else None,
                principal=principal,
                added=added,
                audit=audit,
            )
        metrics = self._metrics
        if metrics is not None:
            return self.app(scope, receive, timed_send(send, added, scope, metrics))
        return self.app(scope, receive, adding_headers(send, added))

    def _counting(self, send: Send, scope: Scope) -> Send:
        """``send`` that counts a refusal's answer in the metrics (if kept)."""
        if self._metrics is None:
            return send
        return timed_send(send, (), scope, self._metrics)

    async def _with_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        headers: dict[bytes, list[bytes]] | None,
        principal: Principal | None,
        added: tuple[tuple[bytes, bytes], ...],
        audit: AuditHook | None,
    ) -> None:
        """A request with a body (``headers`` given) or one to audit: check the
        body, run, record."""
        checked = receive
        if headers is not None:
            body_check = await self._check_body(headers, receive, self._config)
            if isinstance(body_check, Refusal):
                body_check.principal = principal
                await self._refuse(scope, send, body_check, scope["method"])
                return
            checked = body_check
        statuses: list[int] = []

        def recording(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            return send(message)

        if self._metrics is not None:
            sending = timed_send(recording, added, scope, self._metrics)
        else:
            sending = adding_headers(recording, added)
        try:
            await self.app(scope, checked, sending)
        finally:
            # A handler that fails (or a request cut off) changed something or
            # not; either way the attempt is recorded, as an error if no answer
            # had started.
            if audit is not None:
                await audit(scope, principal, statuses[0] if statuses else 500)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The handshake passes the same checks; the app then accepts or not."""
        metrics = self._metrics
        outcome = self._authorize(scope, checked_headers(scope["headers"]), websocket=True)
        if isinstance(outcome, Refusal):
            # Closing before accept makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": outcome.code})
            if metrics is not None:
                metrics.websocket_ended(scope.get("atom_route", UNMATCHED), 403)
            return
        limiter = self._limiter
        if limiter is not None:
            principal = outcome if isinstance(outcome, Principal) else None
            limited = limiter.check(principal, "WEBSOCKET", scope["atom_route"])
            if limited is not None:
                await self._limited_burst(scope, principal, limited)
                status = await self._websocket_too_many(scope, send, limited)
                if metrics is not None:
                    metrics.websocket_ended(scope["atom_route"], status)
                return
        if isinstance(outcome, Principal):
            scope.setdefault("state", {})["principal"] = outcome
        if metrics is None:
            await self.app(scope, receive, send)
            return
        # Counted as sessions, not requests: one lasts as long as its client
        # stays, which a request duration histogram would only blur.
        accepted = False

        def watching(message: Message) -> Awaitable[None]:
            nonlocal accepted
            if message["type"] == "websocket.accept" and not accepted:
                accepted = True
                metrics.websockets_open += 1
            return send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if accepted:
                metrics.websockets_open -= 1
            metrics.websocket_ended(scope["atom_route"], 101 if accepted else 403)

    def _authorize(  # noqa: PLR0911 - one return per check, in order
        self, scope: Scope, headers: dict[bytes, list[bytes]], websocket: bool
    ) -> Refusal | Principal | object | None:
        """Host, Origin, preflight, token and scope: a refusal, or who is asking."""
        if not host_ok(headers.get(b"host", NO_VALUES), self._hosts):
            return Refusal(400, "host_not_allowed", "The Host header does not name this agent.")
        origin_values = headers.get(b"origin")
        if origin_values is not None:
            if not origin_ok(origin_values, self._config.origins):
                return Refusal(
                    403, "origin_not_allowed", "Requests from this origin are not allowed."
                )
            if not websocket and scope["method"] == "OPTIONS":
                return PREFLIGHT
        required, template = self._routes.lookup(scope)
        scope["atom_route"] = template
        if required == PUBLIC:
            return None
        token = bearer_token(headers.get(b"authorization", NO_VALUES))
        if token is None and websocket:
            token = websocket_token(headers.get(b"sec-websocket-protocol", NO_VALUES))
        if token is None:
            return Refusal(
                401, "token_required", "Send an API token: Authorization: Bearer <token>."
            )
        principal = self._authority.verify(token)
        if principal is None:
            return Refusal(403, "token_invalid", "The API token is not valid (unknown or revoked).")
        if not principal.allows(required):
            return Refusal(
                403, "scope_required", f"The token lacks the '{required}' scope.", principal
            )
        return principal

    async def _too_many(
        self,
        scope: Scope,
        send: Send,
        limited: Limited,
        principal: Principal | None,
        origin: str | None,
    ) -> None:
        """429, with CORS headers for an allowed Origin (a browser may then read why)."""
        added = (*_response_headers(scope["path"], origin), *limited.headers())
        await self._limited_burst(scope, principal, limited)
        await _send_error(send, 429, "too_many_requests", limited.message(), added=added)

    @staticmethod
    async def _websocket_too_many(scope: Scope, send: Send, limited: Limited) -> int:
        """A handshake answered 429 where the server can send an HTTP answer to one
        (else 403); returns the status."""
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            # 1013: try again later. The server answers the handshake 403.
            await send({"type": "websocket.close", "code": 1013, "reason": "too_many_requests"})
            return 403
        body = error_body("too_many_requests", limited.message())
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *API_HEADERS,
            *limited.headers(),
        ]
        await send({"type": "websocket.http.response.start", "status": 429, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
        return 429

    async def _limited_burst(
        self, scope: Scope, caller: Principal | None, limited: Limited
    ) -> None:
        """Tell the hook of a burst's first refusal (once a burst, not per request).

        Before the answer: once a client has its first 429, the burst is on
        record (the later ones of the burst write nothing)."""
        if limited.first and self._on_limited is not None:
            await self._on_limited(scope, caller, limited)

    async def _refuse(self, scope: Scope, send: Send, refusal: Refusal, method: str) -> None:
        await _send_error(send, refusal.status, refusal.code, refusal.message)
        if self._audit is not None and method not in SAFE_METHODS:
            await self._audit(scope, refusal.principal, refusal.status)

    async def _check_body(
        self, headers: dict[bytes, list[bytes]], receive: Receive, config: SecurityConfig
    ) -> Receive | Refusal:
        lengths = headers.get(b"content-length", NO_VALUES)
        chunked = any(b"chunked" in v.lower() for v in headers.get(b"transfer-encoding", ()))
        try:
            declared = int(lengths[0]) if len(lengths) == 1 else (None if not lengths else -1)
        except ValueError:
            declared = -1
        if declared == -1:
            return Refusal(400, "bad_content_length", "The Content-Length header is invalid.")
        has_body = chunked or (declared or 0) > 0
        # A browser's "simple" cross-site POST is form or text/plain: only
        # JSON is accepted, so such a request never reaches a handler. A
        # request without a body (e.g. POST .../cancel) may omit the type.
        content_types = headers.get(b"content-type", NO_VALUES)
        if (has_body or content_types) and not json_content_type(content_types):
            return Refusal(415, "unsupported_media_type", "Send the body as application/json.")
        if not has_body:
            return receive
        if declared is not None and declared > config.max_body:
            return Refusal(
                413, "body_too_large", f"The body is larger than {config.max_body} bytes."
            )
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body += message.get("body", b"")
            if len(body) > config.max_body:
                return Refusal(
                    413, "body_too_large", f"The body is larger than {config.max_body} bytes."
                )
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return replay


def _response_headers(path: str, origin: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """What every response gets added. The app itself sets no CORS headers
    (it has no CORS middleware): this layer alone decides them."""
    if path == "/docs" or path.startswith("/docs/"):
        added = DOCS_HEADERS
    elif path == _CALLBACK_PATH:
        added = CALLBACK_HEADERS
    else:
        added = API_HEADERS
    if origin is not None:
        # The exact origin, never "*"; it already passed the allowlist.
        added += ((b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin"))
    return added


def adding_headers(send: Send, added: tuple[tuple[bytes, bytes], ...]) -> Send:
    """``send`` that appends ``added`` to the response's headers."""

    def send_with_headers(message: Message) -> Awaitable[None]:
        # A plain function returning send's awaitable: no coroutine frame
        # of its own per message.
        if message["type"] == "http.response.start":
            # A fresh message dict per send (Starlette's and ours), so it is
            # changed in place.
            message["headers"] = [*message.get("headers", ()), *added]
        return send(message)

    return send_with_headers


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    added: tuple[tuple[bytes, bytes], ...] = API_HEADERS,
) -> None:
    body = error_body(code, message)
    all_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *added,
    ]
    if status == 401:
        all_headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})


async def _send_preflight(send: Send, origin: str) -> None:
    headers = [
        (b"access-control-allow-origin", origin.encode()),
        (b"access-control-allow-methods", b"GET, POST, PATCH, DELETE"),
        (b"access-control-allow-headers", PREFLIGHT_HEADERS.encode()),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
        *API_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def client_address(scope: Scope) -> Any:
    """The peer address uvicorn saw (proxy headers are never trusted)."""
    return scope.get("client")
