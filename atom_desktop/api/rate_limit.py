"""Rate limits: a token bucket per API token, and one for requests without a token.

Every request that passes the security checks takes one from its caller's
bucket, before its handler runs: the owner token's (large, the window's and
the command line's), each named token's, or the one bucket shared by the
requests that need no token (``/health``, the OAuth callback, the docs). A
request the checks refuse (no token, a wrong one, a foreign Host or Origin)
takes nothing: it is answered as cheaply as a 429 would be, and is told
what is wrong. With a named token, starting a run and making a token
also take one from a tighter bucket of their own. The owner token is the
person at the machine (the window, the command line): one large bucket for
everything, which the window's own use never empties. A request that finds a bucket empty
is answered 429 with ``Retry-After`` and the ``RateLimit-*`` headers, and
the first refusal of each burst is audited (:attr:`Limited.first`).

Not the ``limits`` library: it offers fixed and moving windows, not token
buckets; its memory storage takes a lock per hit and keeps a timer thread
for expiry; and the layer runs on every request, ``/health`` included, whose
whole answer costs about 250k instructions: a bucket here costs a dict
lookup and some arithmetic (bench/api_cost.py). The agent is one process with
its buckets on one event loop, so nothing needs sharing or locking.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from atom_desktop.api.auth import Principal
from atom_desktop.config.settings import Settings

#: The bucket every request takes from, and the tighter ones of some routes.
REQUESTS = "requests"
RUN_STARTS = "run_starts"
TOKEN_CREATIONS = "token_creations"  # noqa: S105 - a bucket's name, no secret
#: (method, route template) of the routes with a bucket of their own.
COSTLY_ROUTES = {
    ("POST", "/api/v1/runs"): RUN_STARTS,
    ("POST", "/api/v1/tokens"): TOKEN_CREATIONS,
}
#: Buckets remembered at most: one per token and kind, so only a caller
#: making tokens could grow them (and that has its own limit); a full table
#: starts over (every bucket full again).
MAX_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Limit:
    """``burst`` requests at once, refilled at ``per_s`` a second."""

    per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of each kind of caller and bucket."""

    owner: Limit
    token: Limit
    anonymous: Limit
    run_starts: Limit
    token_creations: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the settings give (``rate_*``)."""
        return cls(
            owner=Limit(settings.rate_owner_per_s, settings.rate_owner_burst),
            token=Limit(settings.rate_token_per_s, settings.rate_token_burst),
            anonymous=Limit(settings.rate_anonymous_per_s, settings.rate_anonymous_burst),
            run_starts=Limit(settings.rate_run_starts_per_min / 60, settings.rate_run_starts_burst),
            token_creations=Limit(
                settings.rate_token_creations_per_min / 60, settings.rate_token_creations_burst
            ),
        )


class Bucket:
    """A token bucket: ``level`` requests are allowed now."""

    __slots__ = ("burst", "level", "per_s", "refusing", "updated")

    def __init__(self, limit: Limit, now: float) -> None:
        self.per_s = limit.per_s
        self.burst = limit.burst
        self.level = float(limit.burst)
        self.updated = now
        #: Whether the last request was refused: the next refusal is not a new burst.
        self.refusing = False

    def take(self, now: float) -> bool:
        """Take one request's worth if there is one."""
        level = self.level + (now - self.updated) * self.per_s
        self.level = level if level < self.burst else self.burst
        self.updated = now
        if self.level >= 1:
            self.level -= 1
            self.refusing = False
            return True
        return False

    def wait_s(self) -> float:
        """Seconds until one request's worth is back (after a refused :meth:`take`)."""
        return (1 - self.level) / self.per_s


@dataclass(frozen=True, slots=True)
class Limited:
    """A refused request: which bucket, and when to come back."""

    kind: str
    limit: Limit
    retry_after_s: int
    #: The first refusal since the bucket last allowed a request: audited.
    first: bool

    def headers(self) -> list[tuple[bytes, bytes]]:
        """``Retry-After`` and the ``RateLimit-*`` headers (IETF httpapi draft):
        the bucket's size, nothing left, whole seconds until there is."""
        wait = str(self.retry_after_s).encode()
        return [
            (b"retry-after", wait),
            (b"ratelimit-limit", str(self.limit.burst).encode()),
            (b"ratelimit-remaining", b"0"),
            (b"ratelimit-reset", wait),
        ]

    def message(self) -> str:
        """What the 429's error says."""
        what = {
            REQUESTS: "requests",
            RUN_STARTS: "run starts",
            TOKEN_CREATIONS: "token creations",
        }[self.kind]
        return (
            f"Too many {what}: at most {self.limit.burst} at once, then "
            f"{_rate(self.limit.per_s)}. Try again in {self.retry_after_s} s."
        )


def _rate(per_s: float) -> str:
    if per_s >= 1:
        return f"{per_s:g} a second"
    return f"{per_s * 60:g} a minute"


class RateLimiter:
    """The buckets of one API, on its event loop (not thread-safe, no need)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        # Every request looks up one bucket: by token id, or the shared one
        # directly (``/health``'s). The tighter buckets are looked up by
        # (token id, kind) for the few routes that have them.
        self._anonymous = Bucket(limits.anonymous, clock())
        self._requests: dict[str, Bucket] = {}
        self._costly: dict[tuple[str, str], Bucket] = {}
        #: Refusals so far, by bucket kind (for the metrics).
        self.refused: dict[str, int] = dict.fromkeys((REQUESTS, RUN_STARTS, TOKEN_CREATIONS), 0)

    def check(self, principal: Principal | None, method: str, route: str) -> Limited | None:
        """Take this request from its buckets; None if it may go on."""
        now = self._clock()
        if principal is None:
            bucket = self._anonymous
        else:
            found = self._requests.get(principal.token_id)
            bucket = found if found is not None else self._new_requests(principal, now)
        # Bucket.take, written out: this runs on every request.
        level = bucket.level + (now - bucket.updated) * bucket.per_s
        bucket.updated = now
        if level < 1:
            bucket.level = level
            return self._refuse(bucket, REQUESTS)
        bucket.level = (level if level < bucket.burst else bucket.burst) - 1
        bucket.refusing = False
        if method != "POST" or principal is None or principal.owner:
            return None
        kind = COSTLY_ROUTES.get((method, route))
        if kind is None:
            return None
        costly = self._costly.get((principal.token_id, kind))
        if costly is None:
            costly = self._new_costly(principal.token_id, kind, now)
        if not costly.take(now):
            return self._refuse(costly, kind)
        return None

    def _new_requests(self, principal: Principal, now: float) -> Bucket:
        if len(self._requests) >= MAX_BUCKETS:
            self._requests.clear()
        limit = self.limits.owner if principal.owner else self.limits.token
        bucket = self._requests[principal.token_id] = Bucket(limit, now)
        return bucket

    def _new_costly(self, token_id: str, kind: str, now: float) -> Bucket:
        if len(self._costly) >= MAX_BUCKETS:
            self._costly.clear()
        limit = self.limits.run_starts if kind == RUN_STARTS else self.limits.token_creations
        bucket = self._costly[(token_id, kind)] = Bucket(limit, now)
        return bucket

    def _refuse(self, bucket: Bucket, kind: str) -> Limited:
        first = not bucket.refusing
        bucket.refusing = True
        self.refused[kind] += 1
        return Limited(
            kind=kind,
            limit=Limit(bucket.per_s, bucket.burst),
            retry_after_s=max(1, math.ceil(bucket.wait_s())),
            first=first,
        )


def _header(description: str) -> dict[str, object]:
    return {"description": description, "required": True, "schema": {"type": "integer"}}


#: The 429 answer as the OpenAPI document states it (every operation has it).
RATE_LIMITED_RESPONSE: dict[str, object] = {
    "description": "Too many requests: the caller's bucket is empty (see Retry-After)",
    "headers": {
        "Retry-After": _header("Seconds to wait before the next request may pass."),
        "RateLimit-Limit": _header("Requests the bucket holds when full."),
        "RateLimit-Remaining": _header("Requests left in the bucket: 0."),
        "RateLimit-Reset": _header("Seconds until the bucket holds a request again."),
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}
